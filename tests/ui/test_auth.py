"""The sign-in gate (``serve/app.py`` + ``analyzer/ui/auth.py``) under AppTest: a logged-out visitor gets the login
page and nothing else; a wrong password gets the one generic message; a sign-in starts a session
whose cookie brings it back after a reload and whose idle expiry signs the browser out; log out
ends it; an invite activates a patient's account; the dashboard refuses to serve a network
address without sign-in, and never shows a visitor where its database is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import streamlit
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from analyzer.errors import plain_message
from analyzer.service import users
from analyzer.service.audit import events
from analyzer.store.models import WebSession
from analyzer.store.records import now
from analyzer.ui import APP, auth, page_path, state
from analyzer.ui.services.common import UNREACHABLE, md_text, open_app_store
from tests.ui.conftest import OP, account, new_patient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path) -> Path:
    """A store with patient P1 (Ann Example) in the caseload of practitioner ``doc``."""
    path = tmp_path / "a.db"
    with open_app_store(path) as store:
        new_patient(store, "P1", "Ann Example")
        new_patient(store, "P2", "Bo Other")
        account(store, "doc", "practitioner", caseload=("P1",), password=PASSWORD)
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
    state.store.clear()


def dashboard(monkeypatch, db: Path) -> AppTest:
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    state.store.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, login: str, password: str) -> AppTest:
    at.text_input(key="login-username").set_value(login)
    at.text_input(key="login-password").set_value(password)
    next(b for b in at.button if b.label == "Log in").click().run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def cookie_scripts(at: AppTest) -> list[str]:
    return [str(h.proto.body) for h in at.get("html")]


def test_a_logged_out_visitor_sees_only_the_login(monkeypatch, db):
    at = dashboard(monkeypatch, db)
    assert texts(at, "title") == ["Skin recovery"]
    labels = [t.label for t in at.text_input]
    assert labels[:2] == ["Username", "Password"]
    password = at.text_input(key="login-password").proto
    assert password.type == password.PASSWORD
    assert [b.label for b in at.button] == ["Log in", "Activate"]
    assert not at.selectbox and not at.dataframe and not at.get("vega_lite_chart") and not at.sidebar.button
    page_text = "\n".join(texts(at, "markdown") + texts(at, "caption") + texts(at, "info"))
    assert "P1" not in page_text and "Ann" not in page_text
    for page in ("patient", "practitioner", "admin", "research", "account", "methods"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page_path(page))  # no page script is registered, only the login


def test_wrong_password_and_unknown_user_get_the_one_generic_message(monkeypatch, db):
    with open_app_store(db) as store, pytest.raises(users.AuthError) as generic:
        users.authenticate(store, "nobody-here", "some password 123")
    at = log_in(dashboard(monkeypatch, db), "doc", "wrong password 123")
    assert texts(at, "error") == [md_text(plain_message(generic.value))]
    assert "actor" not in at.session_state and texts(at, "title") == ["Skin recovery"]
    at = log_in(dashboard(monkeypatch, db), "someone-else", "wrong password 123")
    assert texts(at, "error") == [md_text(plain_message(generic.value))]
    with open_app_store(db) as store:
        failed = events(store, OP, action="signin", outcome="failed")
    assert {e.actor for e in failed} >= {"doc", "someone-else"}


def test_log_in_sets_the_cookie_and_log_out_ends_the_session(monkeypatch, db):
    at = log_in(dashboard(monkeypatch, db), "doc", PASSWORD)
    assert texts(at, "title") == ["Practitioner"]
    assert at.session_state["actor"].login == "doc"
    token = at.session_state["session_token"]
    script = next(s for s in cookie_scripts(at) if "skin_session=" in s)
    assert f"skin_session={token}; Path=/; SameSite=Strict; Max-Age={users.SESSION_MAX_S}" in script
    assert "Secure" not in script  # served over http in the test
    assert "Signed in as doc (practitioner)" in [t.value for t in at.sidebar.text]
    at.sidebar.button(key="logout").click().run()
    assert not at.exception, at.exception
    assert texts(at, "title") == ["Skin recovery"] and "actor" not in at.session_state
    assert any("skin_session=; Path=/; SameSite=Strict; Max-Age=0" in s for s in cookie_scripts(at))
    with open_app_store(db) as store:
        assert users.resume_session(store, token) is None
        assert [e.actor for e in events(store, OP, action="signout")] == ["doc"]


def test_the_cookie_brings_a_session_back_until_it_is_idle_too_long(monkeypatch, db):
    with open_app_store(db) as store:
        token = users.start_session(store, users.authenticate(store, "doc", PASSWORD))
    monkeypatch.setattr(auth, "cookie_token", lambda: token)  # what the browser sends after a reload
    at = dashboard(monkeypatch, db)
    assert texts(at, "title") == ["Practitioner"] and at.session_state["actor"].login == "doc"
    with open_app_store(db) as store, store.sessions.begin() as s:
        idle = now() - timedelta(seconds=users.IDLE_TIMEOUT_S + 60)
        s.execute(update(WebSession).values(last_seen_at=idle))
    at.run()
    assert not at.exception, at.exception
    assert texts(at, "title") == ["Skin recovery"] and "actor" not in at.session_state
    assert texts(at, "info") == ["Your session has ended. Please sign in again."]
    at.run()  # the old cookie is still sent until the page reloads: it stays signed out
    assert texts(at, "title") == ["Skin recovery"]


def test_an_invite_code_activates_the_patients_own_account(monkeypatch, db):
    with open_app_store(db) as store:
        code = users.create_invite(store, "P1", actor=OP)
    at = dashboard(monkeypatch, db)
    at.text_input(key="activate-code").set_value(code)
    at.text_input(key="activate-username").set_value("ann")
    at.text_input(key="activate-password").set_value(PASSWORD)
    at.text_input(key="activate-password2").set_value(PASSWORD + "!")
    next(b for b in at.button if b.label == "Activate").click().run()
    assert texts(at, "error") == ["The two passwords differ. Type the same password twice."]
    at.text_input(key="activate-password2").set_value(PASSWORD)
    next(b for b in at.button if b.label == "Activate").click().run()
    assert not at.exception, at.exception
    assert texts(at, "title") == [md_text("Ann Example")]  # the patient's own record, headed with the name
    assert (at.session_state["actor"].role, at.session_state["actor"].patient) == ("patient", "P1")
    again = dashboard(monkeypatch, db)  # the code is used up
    again.text_input(key="activate-code").set_value(code)
    again.text_input(key="activate-username").set_value("ann2")
    again.text_input(key="activate-password").set_value(PASSWORD)
    again.text_input(key="activate-password2").set_value(PASSWORD)
    next(b for b in again.button if b.label == "Activate").click().run()
    with open_app_store(db) as store, pytest.raises(users.InviteError) as used:
        users.activate(store, code, "ann3", PASSWORD)
    assert texts(again, "error") == [md_text(plain_message(used.value))]
    assert "actor" not in again.session_state


def test_password_change_on_the_account_page(monkeypatch, db):
    at = log_in(dashboard(monkeypatch, db), "doc", PASSWORD)
    at.switch_page(page_path("account")).run()
    at.text_input(key="pw-old").set_value(PASSWORD)
    at.text_input(key="pw-new").set_value("a new long password")
    at.text_input(key="pw-again").set_value("a new long password")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert not at.exception, at.exception
    assert texts(at, "success") == ["Password changed. Your other sessions have ended."]
    with open_app_store(db) as store:
        assert users.authenticate(store, "doc", "a new long password").login == "doc"
        with pytest.raises(users.AuthError):
            users.authenticate(store, "doc", PASSWORD)
    at.run()  # this browser's own session stays open
    assert at.session_state["actor"].login == "doc"


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.0.2", True),
    ("0.0.0.0", False), ("", False), ("192.168.1.20", False), ("clinic.example", False), (None, False)])
def test_is_loopback(address, loopback):
    assert auth.is_loopback(address) is loopback


def _served_on(monkeypatch, address: str) -> None:
    real = streamlit.get_option
    monkeypatch.setattr(streamlit, "get_option",
                        lambda key: address if key == "server.address" else real(key))


def test_a_network_address_without_sign_in_is_refused(monkeypatch, tmp_path):
    _served_on(monkeypatch, "0.0.0.0")
    at = dashboard(monkeypatch, tmp_path / "empty.db")
    assert len(at.error) == 1 and "no sign-in is configured" in at.error[0].value
    assert not at.text_input and not at.button


def test_a_network_address_with_an_account_shows_the_login(monkeypatch, db):
    _served_on(monkeypatch, "0.0.0.0")
    at = dashboard(monkeypatch, db)
    assert not at.error and [t.label for t in at.text_input][:2] == ["Username", "Password"]


def test_an_unreachable_store_shows_visitors_no_detail(monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    at = dashboard(monkeypatch, blocker / "a.db")
    assert texts(at, "error") == [UNREACHABLE]
    assert str(tmp_path) not in "\n".join(texts(at, "error") + texts(at, "markdown"))
    assert not at.text_input
