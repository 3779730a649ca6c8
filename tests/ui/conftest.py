"""Fixtures shared by the dashboard tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analyzer.service import users
from analyzer.service.access import Actor
from analyzer.service.consent import give_consent
from analyzer.store.db import Store
from analyzer.ui.server import options
from analyzer.ui.services.common import load_demo, open_app_store
from analyzer.ui.services.patient import create_patient

OP = Actor.operator()
"""The command line's operator (admin rights): who sets up the tests' stores."""


@pytest.fixture(autouse=True, scope="session")
def dashboard_settings():
    """AppTest runs the scripts in this process, with Streamlit's defaults (which listen on every
    interface): give it the settings ``skin-analyzer dashboard`` serves with (loopback address,
    upload cap, error details hidden)."""
    from streamlit import config

    for key, value in options().items():
        config.set_option(key, value)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory, az) -> Path:
    """A store folder (``a.db`` and ``photos/``) with the four demo patients, analysed once per
    test session.  Tests never change it: they take their own copy with :func:`demo_copy`."""
    folder = tmp_path_factory.mktemp("demo-template")
    with open_app_store(folder / "a.db") as store:
        load_demo(store, az)
    return folder


def demo_copy(template: Path, dest: Path) -> Path:
    """A private copy of the demo store in ``dest`` (created); returns its database path."""
    shutil.copytree(template, dest)
    return dest / "a.db"


def new_patient(store: Store, pseudonym: str, name: str | None = None, *, consent: tuple[str, ...] = ("care",)) -> None:
    """A new patient with ``consent`` recorded (care by default, so photos may be added)."""
    create_patient(store, pseudonym, name, actor=OP)
    for scope in consent:
        give_consent(store, pseudonym, scope, actor=OP)


def account(store: Store, login: str, role: str, *, patient: str | None = None, caseload: tuple[str, ...] = (),
            password: str = "correct horse battery") -> Actor:
    """A built-in account (``caseload`` assigned to a practitioner), signed in: its :class:`Actor`."""
    users.add_user(store, login, role, actor=OP, patient=patient, password=password)
    for p in caseload:
        users.assign(store, login, p, actor=OP)
    return users.authenticate(store, login, password)
