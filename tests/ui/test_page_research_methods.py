"""The Research and Methods pages (Streamlit's AppTest), with the store pointed at a test
database by ``$ANALYZER_DB_URL``.  The Research page is run on its own with the signed-in user
in ``st.session_state["actor"]`` (where serve/app.py's sign-in puts it), as each role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analyzer.service.access import Actor
from analyzer.service.export import export_register
from analyzer.settings import DEFAULT
from analyzer.store.db import open_store
from analyzer.ui import APP, page_path
from tests.ui.conftest import demo_copy

ROOT = Path(__file__).resolve().parents[2]
RESEARCH = page_path("research")
METHODS = page_path("methods")
ADMIN = Actor("ada", "admin", user_id=1)
RESEARCHER = Actor("rita", "researcher", user_id=2)
PRACTITIONER = Actor("pam", "practitioner", user_id=3)
PATIENT = Actor("ann", "patient", user_id=4, patient="DEMO-1")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_template) -> Path:
    """A copy of the demo store: the four demo patients (research consent given)."""
    return demo_copy(demo_template, tmp_path_factory.mktemp("pages") / "store")


def _open(page: str, db: Path, monkeypatch, actor: Actor | None = None) -> AppTest:
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    st.cache_resource.clear()  # analyzer.ui.state.store() is cached per process
    at = AppTest.from_file(str(APP), default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    at.switch_page(page)  # the url_path equals the file's stem, so no first run is needed
    return at.run()


def _rows(at: AppTest) -> int:
    """The row count the preview states (``**1,234 rows**``)."""
    for md in at.markdown:
        m = re.match(r"\*\*([\d,]+) rows\*\*", md.value)
        if m:
            return int(m.group(1).replace(",", ""))
    raise AssertionError("no row count on the page")


def _no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _research(db: Path, monkeypatch, actor: Actor | None) -> AppTest:
    """The Research page on its own, with ``actor`` signed in (``st.session_state["actor"]``,
    where serve/app.py's sign-in puts the signed-in user)."""
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    st.cache_resource.clear()
    at = AppTest.from_file(RESEARCH, default_timeout=60)
    if actor is not None:
        at.session_state["actor"] = actor
    return at.run()


def _cells(at: AppTest) -> list[str]:
    frame = at.dataframe[0].value
    return [str(v) for v in frame.to_numpy().ravel()] + [str(c) for c in frame.columns]


def test_research_page_as_a_researcher_shows_keyed_pseudonyms_only(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, RESEARCHER)
    _no_failure(at)
    assert at.title[0].value == "Research export"
    statement = at.success[0].value
    assert "De-identified, study default" in statement
    assert "4 included" in statement and "0 left out" in statement
    assert not at.warning
    assert [t.key for t in at.toggle] == ["research_quality_ok"]  # no identified switch for a researcher
    assert at.text_input(key="research_study").value == "default"
    n = _rows(at)
    assert n > 1000
    frame = at.dataframe[0].value
    assert 0 < len(frame) <= n and "name" not in frame.columns and "captured_at" not in frame.columns
    assert frame["patient"].str.fullmatch(r"S-[0-9a-f]{12}").all()
    cells = _cells(at)
    assert not any("DEMO-" in c for c in cells)  # never the practice's pseudonyms
    for md in at.markdown:
        assert "DEMO-" not in md.value
    assert all(o.startswith("S-") for o in at.multiselect(key="research_patients").options)
    buttons = at.get("download_button")
    labels = [b.proto.label for b in buttons]
    assert labels == ["CSV + schema (.zip)", "Parquet + schema (.zip)", "JSON + schema (.zip)"]
    assert any(e.label.startswith("Data dictionary") for e in at.expander)
    assert any("`days_since_treatment`" in md.value for md in at.markdown)
    # drawing the page hands nothing out: the register is written when a download is built
    with open_store(demo_db) as s:
        assert export_register(s, actor=ADMIN) == []


def test_research_filters_change_the_rows(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, RESEARCHER)
    everything = _rows(at)
    at.multiselect(key="research_regions").select("face").run()
    _no_failure(at)
    face = _rows(at)
    assert face * 6 == everything  # six regions, the same variables in each
    assert set(at.dataframe[0].value["region"]) == {"face"}
    at.multiselect(key="research_variables").select("redness").run()
    redness = _rows(at)
    assert redness * 6 == face
    slider = next(s for s in at.slider if s.key.startswith("research_days_"))
    slider.set_range(0.0, 3.0).run()
    _no_failure(at)
    early = _rows(at)
    assert 0 < early < redness
    days = at.dataframe[0].value["days_since_treatment"]
    assert days.between(0, 3).all() and ((days * 4) == (days * 4).round()).all()  # quarter days
    first = at.multiselect(key="research_patients").options[0]
    at.multiselect(key="research_patients").select(first).run()
    assert 0 < _rows(at) < early and set(at.dataframe[0].value["patient"]) == {first}


def test_the_study_name_gives_other_pseudonyms_and_a_bad_one_is_said(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, RESEARCHER)
    default = set(at.multiselect(key="research_patients").options)
    at.text_input(key="research_study").set_value("trial.B").run()
    _no_failure(at)
    assert "study trial\\.B" in at.success[0].value
    other = set(at.multiselect(key="research_patients").options)
    assert len(other) == len(default) == 4 and not other & default
    at.text_input(key="research_study").set_value("[x](http://e.vil)").run()
    assert not at.exception and not at.dataframe
    assert at.error[0].value == ("A study name is 1 to 64 letters, digits, '_', '.' or '-', without spaces. "
                                 "Choose a name such as acne-2026.")


def test_identified_toggle_is_the_admins_and_warns(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, ADMIN)
    assert at.toggle(key="research_identified").value is False
    at.toggle(key="research_identified").set_value(True).run()
    _no_failure(at)
    assert at.warning and "Identified export" in at.warning[0].value
    assert not at.success  # the de-identified statement is gone
    frame = at.dataframe[0].value
    assert "name" in frame.columns and set(frame["patient"]) <= {"DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"}
    assert len(at.get("download_button")) == 3
    at.toggle(key="research_identified").set_value(False).run()
    assert not at.warning and "name" not in at.dataframe[0].value.columns
    assert not any("DEMO-" in c for c in _cells(at))


@pytest.mark.parametrize("actor", [PATIENT, PRACTITIONER], ids=["patient", "practitioner"])
def test_research_page_refuses_who_may_not_export(demo_db, monkeypatch, actor):
    at = _research(demo_db, monkeypatch, actor)
    _no_failure(at)
    assert at.info[0].value == ("Your account may not export research data. "
                                "A researcher's or an admin's account may.")
    assert not at.dataframe and not at.get("download_button") and not at.toggle


def test_research_page_without_a_signed_in_user_shows_nothing(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, None)
    _no_failure(at)
    assert at.info[0].value == "Sign in to use the research export."
    assert not at.dataframe and not at.get("download_button") and not at.toggle


def test_methods_page_renders_the_docs(demo_db, monkeypatch):
    at = _open(METHODS, demo_db, monkeypatch, ADMIN)
    _no_failure(at)
    assert at.title[0].value == "Methods"
    assert [t.label for t in at.tabs] == ["How each metric is computed", "How light is corrected", "Quality gate",
                                          "Recovery curve and bands", "Validation", "References"]
    assert any("erythema index" in md.value for md in at.tabs[0].markdown)
    assert any("Spearman rho" in md.value for md in at.tabs[4].markdown)
    values = [m.value for m in at.metric]
    assert values == [f"sd {DEFAULT.redness_noise_sd_card_free_ei:.2f} EI", f"sd {DEFAULT.redness_noise_sd_chart_ei:.2f} EI"]


def test_empty_store_points_to_the_demo(tmp_path, monkeypatch):
    at = _open(RESEARCH, tmp_path / "empty.db", monkeypatch, ADMIN)
    _no_failure(at)
    assert at.info and "Patient" in at.info[0].value and "demo" in at.info[0].value
    assert not at.dataframe and not at.get("download_button")
    at = _research(tmp_path / "empty2.db", monkeypatch, RESEARCHER)  # a researcher: just the empty export
    _no_failure(at)
    assert "no included patient has measured photos" in at.info[0].value.lower()
    assert not at.dataframe and not at.get("download_button")
    at = _open(METHODS, tmp_path / "empty.db", monkeypatch, ADMIN)
    _no_failure(at)
    assert len(at.tabs) == 6


def test_unreadable_store_is_said_in_words(tmp_path, monkeypatch):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database\n" * 200)
    at = _research(bad, monkeypatch, RESEARCHER)
    assert not at.exception
    assert at.error and "cannot open or migrate the database" in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_a_patient_chosen_in_one_study_does_not_follow_into_another(demo_db, monkeypatch):
    at = _research(demo_db, monkeypatch, RESEARCHER)
    first = at.multiselect(key="research_patients").options[0]
    at.multiselect(key="research_patients").select(first).run()
    assert set(at.dataframe[0].value["patient"]) == {first}
    at.text_input(key="research_study").set_value("trial.B").run()
    _no_failure(at)
    assert first not in at.multiselect(key="research_patients").options
    assert at.multiselect(key="research_patients").value == []
    assert _rows(at) > 1000  # every patient of the other study, not an empty selection
