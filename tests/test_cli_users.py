"""``python -m analyzer users add|assign|list|disable|invite`` against a store in a temporary folder."""

from __future__ import annotations

import io
import re
import sys

import pytest
from sqlalchemy import select

from analyzer.cli import main
from analyzer.service import users
from analyzer.service.access import Actor
from analyzer.service.audit import events
from analyzer.store.db import open_store
from analyzer.store.models import User
from analyzer.store.records import get_or_create_patient


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "analyzer.db"
    with open_store(path) as store, store.sessions.begin() as s:
        for p in ("P0012", "P0013"):
            get_or_create_patient(s, p)
    return str(path)


def _run(*argv):
    buf = io.StringIO()
    code = main(["users", *argv], stdout=buf)
    return code, buf.getvalue()


def test_add_makes_and_prints_a_password_once(db, capsys):
    code, out = _run("add", "dr.who", "--role", "practitioner", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "added dr.who (role practitioner)"
    m = re.fullmatch(r"password for dr\.who \(shown once\): (\S+)", lines[1])
    assert m and len(lines) == 2
    with open_store(db) as store:
        assert users.authenticate(store, "dr.who", m.group(1)).role == "practitioner"
        with store.sessions() as s:
            stored = s.scalar(select(User.password_hash).where(User.login == "dr.who"))
    assert stored.startswith("$argon2id$") and stored not in out
    code, listed = _run("list", "--db", db)
    assert "$argon2" not in listed and m.group(1) not in listed
    assert capsys.readouterr().err == ""


def test_add_reads_the_password_from_stdin(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("my own secret\nignored\n"))
    code, out = _run("add", "jane.d", "--role", "patient", "--patient", "P0012", "--password-stdin",
                     "--db", db)
    assert (code, out) == (0, "added jane.d (role patient, patient P0012)\n")
    with open_store(db) as store:
        actor = users.authenticate(store, "jane.d", "my own secret")
    assert (actor.role, actor.patient) == ("patient", "P0012")


def test_add_with_an_oidc_subject_prints_no_password(db):
    code, out = _run("add", "res@clinic.example", "--role", "researcher", "--oidc-subject", "sub-7",
                     "--db", db)
    assert (code, out) == (0, "added res@clinic.example (role researcher)\n")


def test_assign_list_disable(db):
    _run("add", "dr.who", "--role", "practitioner", "--db", db)
    _run("add", "jane.d", "--role", "patient", "--patient", "P0013", "--oidc-subject", "sub-j", "--db", db)
    assert _run("assign", "dr.who", "--patient", "P0012", "--db", db) == (0, "assigned P0012 to dr.who\n")
    assert _run("assign", "dr.who", "--patient", "P0013", "--db", db)[0] == 0
    assert _run("disable", "jane.d", "--db", db) == (0, "disabled jane.d (its sessions ended)\n")
    code, out = _run("list", "--db", db)
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["login", "role", "patient", "caseload", "disabled", "sign-in"],
        ["dr.who", "practitioner", "-", "P0012,P0013", "no", "password"],
        ["jane.d", "patient", "P0013", "-", "yes", "oidc"],
    ]
    with open_store(db) as store:
        log = events(store, Actor.operator(), action="user.")
    assert [e.action for e in log] == ["user.disable", "user.assign", "user.assign", "user.add", "user.add"]
    assert {e.actor for e in log} == {Actor.operator().login}


def test_list_of_an_empty_store(db):
    code, out = _run("list", "--db", db)
    assert code == 0
    assert out.splitlines()[1] == "(no accounts yet: python -m analyzer users add LOGIN --role ROLE)"


def test_invite_prints_a_code_that_activates_the_patient(db):
    code, out = _run("invite", "--patient", "P0012", "--db", db)
    assert code == 0
    m = re.match(r"invite code for P0012: ([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})\n"
                 r"it works once, until \d{4}-\d\d-\d\d \d\d:\d\d UTC; ", out)
    assert m
    with open_store(db) as store:
        assert users.activate(store, m.group(1), "jane.d", "my own secret").patient == "P0012"


NO_GHOST = "error: account 'ghost': no such account. check the login (python -m analyzer users list)"


@pytest.mark.parametrize(("argv", "message"), [
    (("add", "dr.who", "--role", "patient"),
     ("error: account 'dr.who': a patient account needs its patient. "
     "name the patient's pseudonym (--patient P0012)")),
    (("assign", "ghost", "--patient", "P0012"), NO_GHOST),
    (("disable", "ghost"), NO_GHOST),
    (("invite", "--patient", "P9999"),
     ("error: patient 'P9999': no such patient in the store. "
     "check the pseudonym, or import a photo for the patient first")),
])
def test_errors_go_to_stderr_with_exit_1(db, capsys, argv, message):
    code, out = _run(*argv, "--db", db)
    assert (code, out) == (1, "")
    assert capsys.readouterr().err.strip() == message


def test_a_duplicate_login_is_refused(db, capsys):
    assert _run("add", "dr.who", "--role", "practitioner", "--db", db)[0] == 0
    capsys.readouterr()
    code, out = _run("add", "dr.who", "--role", "admin", "--db", db)
    assert (code, out) == (1, "")  # no password printed for an account that was not made
    assert capsys.readouterr().err.strip() == (
        "error: account 'dr.who': an account with this login already exists. "
        "choose another login, or see python -m analyzer users list")


def test_an_empty_password_on_stdin_is_a_usage_error(db, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    code, out = _run("add", "dr.who", "--role", "practitioner", "--password-stdin", "--db", db)
    assert (code, out) == (2, "")
    assert "no password on standard input" in capsys.readouterr().err


def test_usage_errors_exit_2(db):
    with pytest.raises(SystemExit) as e:
        main(["users", "add", "dr.who", "--role", "owner", "--db", db], stdout=io.StringIO())
    assert e.value.code == 2
