"""The Admin page (AppTest) and ``analyzer.ui.services.admin``: accounts with a password shown once,
caseloads, the audit log with filters, the export register, deletion confirmed by the
pseudonym, the orphan-file sweep and the store's details; every one of them refused to anyone
but an admin."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer.errors import plain_message
from analyzer.service import users
from analyzer.service.access import PermissionDenied
from analyzer.service.export import export_observations
from analyzer.ui import APP, state
from analyzer.ui.services.admin import (
    ConfirmationMismatch,
    audit_table,
    delete_patient_confirmed,
    register_table,
    store_details,
    sweep,
    users_table,
)
from analyzer.ui.services.common import md_text, open_app_store, visible
from analyzer.ui.services.patient import treatments
from tests.ui.conftest import OP, account, new_patient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clinic(tmp_path):
    """Patients P1, P2; ``boss`` (admin), ``doc`` (practitioner of P1) who tried to open P2."""
    db = tmp_path / "a.db"
    with open_app_store(db) as store:
        new_patient(store, "P1", "Ann Example")
        new_patient(store, "P2", "Bo Other")
        boss = account(store, "boss", "admin")
        doc = account(store, "doc", "practitioner", caseload=("P1",))
        with pytest.raises(PermissionDenied):
            treatments(store, "P2", actor=doc)
    yield db, boss, doc
    state.store.clear()


def admin_page(monkeypatch, db: Path, actor, tab: str | None = None) -> AppTest:
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    state.store.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["actor"] = actor
    if tab:
        at.session_state["admin-tab"] = tab
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Admin"]
    return at


def test_the_accounts_tab_lists_every_account(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss)
    table = at.dataframe[0].value.set_index("login")
    assert sorted(table.index) == ["boss", "doc"]
    assert table.loc["doc", "role"] == "practitioner" and table.loc["doc", "caseload"] == "P1"
    assert table.loc["boss", "sign_in"] == "password" and not table.loc["boss", "disabled"]


def test_a_new_account_gets_a_password_shown_once(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss)
    at.text_input(key="add-login").set_value("nurse")
    at.selectbox(key="add-role").set_value("practitioner")
    next(b for b in at.button if b.label == "Add account").click().run()
    assert not at.exception, at.exception
    password = at.code[0].value
    with open_app_store(db) as store:
        assert users.authenticate(store, "nurse", password).role == "practitioner"
    at.run()
    assert not at.code and "nurse" in list(at.dataframe[0].value["login"])


def test_a_bad_account_is_refused_in_words(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss)
    at.text_input(key="add-login").set_value("someone")
    at.selectbox(key="add-role").set_value("patient")  # a patient's account needs its patient
    next(b for b in at.button if b.label == "Add account").click().run()
    assert len(at.error) == 1 and not at.code
    with open_app_store(db) as store, pytest.raises(users.AccountError) as e:
        users.add_user(store, "someone", "patient", actor=OP, password=users.new_password())
    assert at.error[0].value == md_text(plain_message(e.value))  # shown as text, never as Markdown


def test_the_audit_log_shows_and_filters_events(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss, "Audit log")
    log = at.dataframe[0].value
    assert {"signin", "patient.create", "consent.give", "user.add"} <= set(log["action"])
    assert list(log.columns) == ["at", "actor", "role", "action", "patient", "outcome", "detail"]
    at.selectbox(key="audit-outcome").set_value("denied").run()
    denied = at.dataframe[0].value
    assert list(zip(denied["actor"], denied["action"], denied["patient"])) == [("doc", "record.view", "P2")]
    at.text_input(key="audit-who").set_value("nobody-at-all").run()
    assert at.dataframe[0].value.empty
    at.selectbox(key="audit-outcome").set_value("").run()
    at.text_input(key="audit-who").set_value("").run()
    at.date_input(key="audit-since").set_value(date.today() + timedelta(days=1)).run()
    at.date_input(key="audit-until").set_value(date.today() + timedelta(days=2)).run()
    assert at.dataframe[0].value.empty  # nothing happened tomorrow


def test_the_export_register_lists_each_export(monkeypatch, clinic, tmp_path):
    db, boss, _ = clinic
    with open_app_store(db) as store:
        export_observations(store, tmp_path / "obs.csv", actor=boss, fmt="csv")
        table = register_table(store, actor=boss)
    assert len(table) == 1 and "boss" in table.astype(str).to_string()
    at = admin_page(monkeypatch, db, boss, "Export register")
    assert len(at.dataframe[0].value) == 1


def test_deleting_a_patient_needs_the_pseudonym_typed(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss, "Deletion")
    at.selectbox(key="delete-patient").set_value("P2")
    at.text_input(key="delete-confirm").set_value("P")
    next(b for b in at.button if b.label == "Delete the patient").click().run()
    assert [e.value for e in at.error] == [md_text(
        "patient P2: the typed pseudonym does not match. type the patient's pseudonym exactly to confirm the "
        "deletion")]
    at.selectbox(key="delete-patient").set_value("P2")
    at.text_input(key="delete-confirm").set_value("P2")
    next(b for b in at.button if b.label == "Delete the patient").click().run()
    assert not at.exception and not at.error
    with open_app_store(db) as store:
        assert [p.pseudonym for p in visible(store, actor=boss)] == ["P1"]


def test_the_sweep_removes_old_orphan_files(monkeypatch, clinic):
    db, boss, _ = clinic
    orphan = db.parent / "photos" / "left-behind.jpg"
    orphan.write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    at = admin_page(monkeypatch, db, boss, "Deletion")
    at.button(key="sweep").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["1 file(s) removed."] and not orphan.exists()


def test_the_store_tab_shows_where_the_database_is(monkeypatch, clinic):
    db, boss, _ = clinic
    at = admin_page(monkeypatch, db, boss, "Store")
    shown = at.dataframe[0].value.to_string()
    assert str(db) in shown and "sqlite" in shown


def test_everything_admin_is_refused_to_anyone_else(clinic):
    db, _, doc = clinic
    with open_app_store(db) as store:
        for call in (lambda: users_table(store, actor=doc), lambda: audit_table(store, actor=doc),
                     lambda: register_table(store, actor=doc), lambda: store_details(store, actor=doc),
                     lambda: sweep(store, actor=doc),
                     lambda: delete_patient_confirmed(store, "P1", "P1", actor=doc)):
            with pytest.raises(PermissionDenied):
                call()
        with pytest.raises(ConfirmationMismatch):
            delete_patient_confirmed(store, "P1", "P2", actor=OP)
        assert [p.pseudonym for p in visible(store, actor=OP)] == ["P1", "P2"]
