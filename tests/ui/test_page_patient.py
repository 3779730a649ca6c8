"""The Patient page under Streamlit's AppTest: the demo offer, the chart and flags, uploads
through ``file_uploader`` with per-photo verdicts, the diary, the timeline, new patients, the
consents and the upload refused without care consent.  Signed in as the command line's operator
(admin rights) unless a test says otherwise: ``st.session_state["actor"]`` is set directly, as
the sign-in gate does (its own tests: ``test_auth.py``)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer.service.access import Actor
from analyzer.ui import APP, page_path, state
from analyzer.ui.services.common import DEMO_TREATED_AT, md_text, open_app_store
from analyzer.ui.services.patient import MAX_FILES_PER_UPLOAD, save_treatment, upload_photos
from tests.ui.conftest import OP, new_patient

ROOT = Path(__file__).parents[2]
PERSISTENT = sorted((ROOT / "sample_images" / "persistent_redness").glob("*.jpg"))


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory, az) -> Path:
    """A store with P1: the persistent-redness course and its treatment."""
    db = tmp_path_factory.mktemp("page-store") / "a.db"
    with open_app_store(db) as store:
        new_patient(store, "P1", "Ann Example")
        upload_photos(store, az, "P1", [(p.name, p.read_bytes()) for p in PERSISTENT[:5]], actor=OP)
        save_treatment(store, "P1", DEMO_TREATED_AT, 1.0, actor=OP)
    return db


def app(monkeypatch, db: Path, actor: Actor = OP, query: dict | None = None) -> AppTest:
    """The Patient page on the store ``db`` for ``actor`` (the cached store of an earlier test is
    dropped)."""
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    state.store.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["actor"] = actor
    at.run()  # the role's navigation first, then the Patient page in it
    at.switch_page(page_path("patient"))
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, at.exception
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """Open one of the page's lazy tabs (only the open tab's code runs)."""
    at.session_state["tab"] = name
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at, kind: str) -> str:
    return "\n".join(e.value for e in getattr(at, kind))


def test_empty_store_offers_the_demo_and_loads_it(monkeypatch, tmp_path):
    at = app(monkeypatch, tmp_path / "empty.db")
    assert "no patients yet" in texts(at, "info")
    at.button(key="load-demo").click().run()
    assert not at.exception, at.exception
    assert at.session_state["patient"] == "DEMO-1"
    assert at.selectbox(key="patient").options[0].startswith("Demo:")
    assert len(at.get("vega_lite_chart")) >= 4  # recovery + flaking, texture, melanin
    assert "Your recovery looks as expected so far (day 14.0)." in texts(at, "success")


def test_course_chart_flags_and_aftercare(monkeypatch, filled_db):
    at = app(monkeypatch, filled_db)
    assert at.selectbox(key="patient").value == "P1"
    assert len(at.get("vega_lite_chart")) >= 4
    warnings = texts(at, "warning") + texts(at, "error")
    assert "persistent redness" in warnings and "Redness is still above your baseline" in warnings
    assert "Something in your recovery needs attention." in warnings  # the verdict, first
    assert "looks as expected" not in texts(at, "success")
    assert any("SPF 30" in c.label for c in at.checkbox)
    at.segmented_control(key="region").set_value("forehead").run()
    assert not at.exception, at.exception
    assert len(at.get("vega_lite_chart")) >= 4


def test_upload_through_the_page_shows_each_verdict(monkeypatch, filled_db):
    at = open_tab(app(monkeypatch, filled_db), "Add photos")
    assert len(at.get("vega_lite_chart")) == 0  # lazy: the chart's tab did not run
    uploads = [(p.name, p.read_bytes(), "image/jpeg") for p in PERSISTENT[5:7]]
    uploads.append(("broken.jpg", b"\xff\xd8\xff\xe0 not a photo", "image/jpeg"))
    at.file_uploader[0].set_value(uploads).run()
    assert not at.exception, at.exception
    at.button(key="analyse").click().run()
    assert not at.exception, at.exception
    ok = texts(at, "success")
    # File names are shown as text: escaped for Markdown (analyzer.ui.services.common.md_text).
    assert md_text(PERSISTENT[5].name) in ok and md_text(PERSISTENT[6].name) in ok and "good photo" in ok
    err = texts(at, "error")
    assert f"{md_text('broken.jpg')}: not added" in err.replace("**", "")
    assert "Traceback" not in err
    # the new days are on the chart: the course now reaches day 7
    with open_app_store(filled_db) as store:
        from analyzer.ui.services.patient import course_view

        assert course_view(store, "P1", actor=OP).points["day"].max() > 6.9


def test_diary_entry_with_pus_shows_an_urgent_flag(monkeypatch, tmp_path, az):
    db = tmp_path / "d.db"
    with open_app_store(db) as store:
        new_patient(store, "P2")
        upload_photos(store, az, "P2", [(p.name, p.read_bytes()) for p in PERSISTENT[:3]], actor=OP)
        save_treatment(store, "P2", DEMO_TREATED_AT, 1.0, actor=OP)
    at = open_tab(app(monkeypatch, db), "Diary")
    at.date_input(key="diary-date").set_value(DEMO_TREATED_AT.date())  # the evening of the treatment
    at.time_input(key="diary-time").set_value(time(20, 0))
    at.checkbox(key="diary-pus").check()
    at.slider[0].set_value(3)
    submit = next(b for b in at.button if b.label == "Save")
    submit.click().run()
    assert not at.exception, at.exception
    assert "Saved" in texts(at, "success")
    open_tab(at, "Recovery")
    assert "Contact your practitioner" in texts(at, "error")


def test_timeline_shows_faces_and_overlay(monkeypatch, filled_db):
    at = open_tab(app(monkeypatch, filled_db), "Timeline")
    assert len(at.get("image")) >= 2 + 5  # baseline, selected day, and the strip of 5 days
    at.toggle(key="overlay").set_value(True).run()
    assert not at.exception, at.exception
    assert "hemoglobin" in "\n".join(c.value for c in at.caption) or len(at.get("image")) >= 4


def test_new_patient_form(monkeypatch, filled_db):
    at = app(monkeypatch, filled_db)
    at.text_input[0].set_value("P7")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception, at.exception
    assert at.session_state["patient"] == "P7"
    assert "Record the treatment" in texts(at, "info")
    at.text_input[0].set_value("not a pseudonym!")
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception and "pseudonym" in texts(at, "error").lower()


def test_capture_time_edit_through_the_page(monkeypatch, tmp_path, az):
    db = tmp_path / "t.db"
    with open_app_store(db) as store:
        new_patient(store, "P3")
        upload_photos(store, az, "P3", [(p.name, p.read_bytes()) for p in PERSISTENT[:3]], actor=OP)
        save_treatment(store, "P3", DEMO_TREATED_AT, 1.0, actor=OP)
    at = open_tab(app(monkeypatch, db), "Add photos")
    # the third photo (day 1) was really taken on day 2, at 09:30 on the phone's clock
    at.session_state["times-P3"] = {"edited_rows": {2: {"taken": "2026-11-05T09:30:00"}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    next(b for b in at.button if b.label == "Save times").click().run()
    assert not at.exception, at.exception
    assert "Saved 1 time(s)" in texts(at, "success")
    with open_app_store(db) as store:
        from analyzer.ui.services.patient import course_view

        days = sorted(course_view(store, "P3", actor=OP).points["day"])
    assert days[-1] == pytest.approx(2 + 0.5 / 24, abs=1e-6)  # 09:30 +01:00 is 0.5 h after 09:00 +01:00


def test_upload_without_care_consent_says_how_to_give_it(monkeypatch, tmp_path):
    db = tmp_path / "n.db"
    with open_app_store(db) as store:
        new_patient(store, "P8", consent=())
    at = open_tab(app(monkeypatch, db), "Add photos")
    assert not at.file_uploader  # the upload area shows how to give consent instead
    assert "care consent is recorded" in texts(at, "warning") and "Consent" in texts(at, "warning")
    open_tab(at, "Consent")
    assert [b.label for b in at.button if b.key and b.key.startswith("consent-")] == ["I consent", "I consent"]
    at.button(key="consent-give-care").click().run()
    assert not at.exception, at.exception
    assert at.button(key="consent-withdraw-care").label == "Withdraw this consent"
    history = at.dataframe[0].value  # only the care consent has a history
    assert list(history["recorded by"]) == [OP.login] and list(history["text version"]) == ["care-1"]
    open_tab(at, "Add photos")
    assert len(at.file_uploader) == 1


def test_more_files_than_the_cap_are_refused_and_nothing_is_imported(monkeypatch, filled_db):
    at = open_tab(app(monkeypatch, filled_db), "Add photos")
    one = (PERSISTENT[5].name, PERSISTENT[5].read_bytes(), "image/jpeg")
    at.file_uploader[0].set_value([(f"{i}-{one[0]}", one[1], one[2]) for i in range(MAX_FILES_PER_UPLOAD + 1)]).run()
    assert not at.exception, at.exception
    assert (f"{MAX_FILES_PER_UPLOAD + 1} photos chosen: at most {MAX_FILES_PER_UPLOAD} can be added at once"
            in texts(at, "error"))
    assert not [b for b in at.button if b.key == "analyse"]


def test_query_parameter_opens_a_patient_for_whoever_may_see_them(monkeypatch, filled_db):
    with open_app_store(filled_db) as store:
        new_patient(store, "P9", "Bo Other")
    at = app(monkeypatch, filled_db, query={"patient": "P9"})
    assert at.selectbox(key="patient").value == "P9"
    at = app(monkeypatch, filled_db, query={"patient": "NOBODY"})
    assert [w.value for w in at.warning] == ["This record is not available to your account."]
    assert not at.selectbox and not at.get("vega_lite_chart")
