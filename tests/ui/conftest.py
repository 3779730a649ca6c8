"""Fixtures shared by the dashboard tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ui.services.common import load_demo, open_app_store


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
