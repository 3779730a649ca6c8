"""Each page as each role (AppTest, ``st.session_state["actor"]`` set as the sign-in gate sets it):
only the role's pages exist, a patient sees their own record and nothing of anyone else's, a
practitioner only their caseload, a researcher no record at all; a patient opening another
patient's record by its address sees a refusal, and the attempt is in the audit log.  The use
cases behind the pages refuse the wrong user on their own (called directly here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer.service.access import Actor, PermissionDenied
from analyzer.service.audit import events
from analyzer.service.users import add_user
from analyzer.ui import APP, page_path, state
from analyzer.ui.services.common import md_text, open_app_store
from analyzer.ui.services.patient import consent_view, timeline, treatments, upload_photos
from analyzer.ui.services.practice import triage
from tests.ui.conftest import OP, account, new_patient

ROOT = Path(__file__).resolve().parents[2]
REFUSAL = "This record is not available to your account."
PAGES = ("admin", "practitioner", "patient", "research", "account", "methods")
ROLE_PAGES = {"patient": {"patient", "account", "methods"},
              "practitioner": {"practitioner", "patient", "account", "methods"},
              "researcher": {"research", "account", "methods"},
              "admin": set(PAGES)}


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> tuple[Path, dict[str, Actor]]:
    """Three patients; ``ann`` is P1's own account, ``doc`` has P2 in the caseload, ``res`` a
    researcher, ``boss`` an admin."""
    db = tmp_path_factory.mktemp("roles") / "a.db"
    with open_app_store(db) as store:
        new_patient(store, "P1", "Ann Example")
        new_patient(store, "P2", "Bo Other")
        new_patient(store, "P3", "Cy Third")
        actors = {"ann": account(store, "ann", "patient", patient="P1"),
                  "doc": account(store, "doc", "practitioner", caseload=("P2",)),
                  "res": account(store, "res", "researcher"),
                  "boss": account(store, "boss", "admin")}
    return db, actors


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
    state.store.clear()


def as_user(monkeypatch, db: Path, actor: Actor, page: str | None = None,
            query: dict | None = None) -> AppTest:
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    state.store.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    if page is not None:
        at.switch_page(page_path(page))
    at.query_params.update(query or {})
    at.run()
    return at


def shown(at: AppTest) -> str:
    """Every text, label and option the page put out."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success")
    parts = [str(e.value) for kind in kinds for e in at.get(kind)]
    parts += [str(w.label) for w in at.text_input] + [o for s in at.selectbox for o in map(str, s.options)]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


def registered(at: AppTest) -> set[str]:
    ok = set()
    for page in PAGES:
        try:
            at.switch_page(page_path(page))
        except ValueError:
            continue
        ok.add(page)
    return ok


@pytest.mark.parametrize("who", ["ann", "doc", "res", "boss"])
def test_only_the_roles_pages_exist(monkeypatch, clinic, who):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors[who])
    assert registered(at) == ROLE_PAGES[actors[who].role]


def test_a_patient_sees_their_own_record_headed_with_their_name(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["ann"])  # the Patient page is the patient's first page
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == [md_text("Ann Example")]
    assert not at.selectbox  # no picker
    assert "Create" not in [b.label for b in at.button] and "New patient" not in shown(at)
    text = shown(at)
    for other in ("P2", "P3", "Bo Other", "Cy Third"):
        assert other not in text


@pytest.mark.parametrize("other", ["P2", "P3", "NOBODY"])
def test_a_patient_opening_another_record_by_address_is_refused_and_audited(monkeypatch, clinic, other):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["ann"], "patient", {"patient": other})
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [REFUSAL]
    assert not at.title and not at.selectbox and not at.tabs
    assert [b.key for b in at.button] == ["logout"]  # the sidebar's, nothing on the page
    assert "Ann Example" not in shown(at) and "Bo Other" not in shown(at)
    with open_app_store(db) as store:
        denied = events(store, OP, who="ann", patient=other, outcome="denied")
    assert denied and denied[0].action == "record.view" and denied[0].role == "patient"


def test_a_patient_opening_their_own_record_by_address_sees_it(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["ann"], "patient", {"patient": "P1"})
    assert [t.value for t in at.title] == [md_text("Ann Example")] and not at.warning


def test_a_practitioners_picker_and_triage_hold_only_their_caseload(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["doc"], "patient")
    assert not at.exception, at.exception
    assert at.selectbox(key="patient").options == ["Bo Other (P2)"]
    at = as_user(monkeypatch, db, actors["doc"])  # the Practitioner page first
    assert [t.value for t in at.title] == ["Practitioner"]
    assert list(at.dataframe[0].value["pseudonym"]) == ["P2"]
    assert at.selectbox(key="invite-patient").options == ["P2"]
    for other in ("P1", "P3", "Ann Example", "Cy Third"):
        assert other not in shown(at)


def test_a_practitioner_opening_a_patient_outside_the_caseload_is_refused(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["doc"], "patient", {"patient": "P3"})
    assert [w.value for w in at.warning] == [REFUSAL] and not at.selectbox
    at = as_user(monkeypatch, db, actors["doc"], "patient", {"patient": "P2"})
    assert at.selectbox(key="patient").value == "P2" and not at.warning


def test_a_practitioners_invite_is_shown_once(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["doc"])
    at.button(key="invite").click().run()
    assert not at.exception, at.exception
    code = at.code[0].value
    assert len(code) >= 8 and any("shown only now" in s.value for s in at.success)
    at.run()
    assert not at.code  # gone on the next run


def test_a_researcher_gets_no_record(monkeypatch, clinic):
    db, actors = clinic
    at = as_user(monkeypatch, db, actors["res"])
    assert "Patient" not in [t.value for t in at.title]
    assert not [s for s in at.selectbox if s.key == "patient"]
    for name in ("Ann Example", "Bo Other", "Cy Third"):
        assert name not in shown(at)


def test_the_use_cases_refuse_the_wrong_user(clinic, az):
    db, actors = clinic
    photo = (ROOT / "sample_images" / "normal").glob("*.jpg").__next__()
    with open_app_store(db) as store:
        with pytest.raises(PermissionDenied):
            upload_photos(store, az, "P2", [(photo.name, photo.read_bytes())], actor=actors["ann"])
        with pytest.raises(PermissionDenied):
            treatments(store, "P1", actor=actors["doc"])
        with pytest.raises(PermissionDenied):
            timeline(store, "P1", None, actor=actors["res"])
        with pytest.raises(PermissionDenied):
            consent_view(store, "P3", actor=actors["doc"])
        with pytest.raises(PermissionDenied):
            triage(store, actor=actors["ann"])
        assert list(triage(store, actor=actors["doc"])["pseudonym"]) == ["P2"]
        denied = events(store, OP, who="ann", action="record.change", outcome="denied")
        assert [e.patient for e in denied] == ["P2"]
        # nothing was stored for P2
        assert timeline(store, "P2", None, actor=OP) == []


def test_a_disabled_account_signed_in_elsewhere_is_no_longer_let_in(monkeypatch, clinic):
    """The page trusts the session only while the store does: a disabled account's session ends."""
    db, actors = clinic
    from analyzer.service import users

    with open_app_store(db) as store:
        add_user(store, "temp", "practitioner", actor=OP, password="a long password 1")
        temp = users.authenticate(store, "temp", "a long password 1")
        token = users.start_session(store, temp)
        users.set_disabled(store, "temp", True, actor=OP)
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    state.store.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["actor"] = temp
    at.session_state["session_token"] = token
    at.run()
    assert [t.value for t in at.title] == ["Skin recovery"] and "actor" not in at.session_state


def test_a_name_with_markdown_is_shown_as_typed(monkeypatch, tmp_path):
    """User text never becomes a link, an image or formatting (the Patient page's heading, the
    sidebar's login)."""
    db = tmp_path / "md.db"
    evil = "![t](http://e.vil/t.png) [x](http://e.vil) :red[urgent]"
    with open_app_store(db) as store:
        new_patient(store, "P9", evil)
        who = account(store, "eve_[x]", "patient", patient="P9")
    at = as_user(monkeypatch, db, who)
    assert [t.value for t in at.title] == [md_text(evil)]
    assert "](" not in at.title[0].value.replace("\\]\\(", "")
    assert "Signed in as eve_[x] (patient)" in [t.value for t in at.sidebar.text]  # st.text: never Markdown
