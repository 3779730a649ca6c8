"""The Practitioner page through ``serve/app.py`` (``streamlit.testing.v1.AppTest``): the triage table,
the detail view with its chart, flags and download button, and the empty store.

The app reads its store from ``$ANALYZER_DB_URL``; ``analyzer.ui.state.store()`` is an
``st.cache_resource``, so every test clears that cache after pointing the variable at its store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analyzer.service.access import Actor
from analyzer.ui import APP, page_path
from analyzer.ui.services.common import open_app_store
from analyzer.ui.services.patient import create_patient
from tests.ui.conftest import OP, demo_copy

ROOT = Path(__file__).resolve().parents[2]
PAGE = page_path("practitioner")
NEW = "P-NEW"
"""A patient with neither photos nor treatment, next to the demo patients."""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_template) -> Path:
    """The four demo patients and one new patient, in this module's copy of the demo store."""
    path = demo_copy(demo_template, tmp_path_factory.mktemp("practitioner-page") / "store")
    s = open_app_store(path)
    create_patient(s, NEW, "New patient", actor=OP)
    s.close()
    return path


def _app(monkeypatch, db: Path, actor: Actor = OP) -> AppTest:
    """The Practitioner page for ``actor`` (default: the operator, who sees every patient)."""
    monkeypatch.setenv("ANALYZER_DB_URL", f"sqlite:///{db}")
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(PAGE)
    return at.run()


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
    st.cache_resource.clear()  # the next test (or module) opens its own store


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "error", "warning")
                     for e in at.get(kind))


def test_table_lists_the_most_severe_patient_first(monkeypatch, demo_db):
    at = _app(monkeypatch, demo_db)
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Practitioner"
    table = at.dataframe[0].value
    assert list(table["pseudonym"]) == ["DEMO-2", "DEMO-4", "DEMO-3", "DEMO-1", NEW]
    assert [list(v) for v in table["severity"]] == [["Urgent"], ["Warning"], ["Warning"], ["No flag"], ["Not assessed"]]
    assert table["status"].iloc[-1] == "No photos and no treatment recorded yet."


def test_detail_view_shows_chart_flags_and_report_download(monkeypatch, demo_db):
    at = _app(monkeypatch, demo_db)
    assert at.selectbox(key="practitioner-patient").value == "DEMO-2"
    assert len(at.get("vega_lite_chart")) == 1
    text = _texts(at)
    assert ":red-badge[Urgent] **persistent redness**" in text
    assert ":orange-badge[Warning] **persistent redness**" in text
    assert ":blue-badge[Info] **slow fading**" in text
    buttons = at.get("download_button")
    assert len(buttons) == 1 and buttons[0].label.startswith("Download the report")
    assert "health data" in buttons[0].help  # (the file name is not kept without a server runtime)
    assert len(at.get("image")) == 8  # the photo strip: DEMO-2 has one photo on each of 8 days


def test_selecting_another_patient_and_region(monkeypatch, demo_db):
    at = _app(monkeypatch, demo_db)
    at.selectbox(key="practitioner-patient").select("DEMO-1").run()
    assert not at.exception and not at.error
    assert "No flags: the course so far is within the expected range." in _texts(at)
    assert len(at.get("vega_lite_chart")) == 1
    assert [m.label for m in at.metric] == ["Days since treatment", "Distance from expected", "Photos in this course"]
    assert at.metric[2].value == "16"
    at.button_group(key="practitioner-region").set_value("forehead").run()
    assert not at.exception and not at.error
    assert len(at.get("vega_lite_chart")) == 1


def test_patient_without_treatment_gets_a_note(monkeypatch, demo_db):
    at = _app(monkeypatch, demo_db)
    at.selectbox(key="practitioner-patient").select(NEW).run()
    assert not at.exception and not at.error
    assert any("No treatment is recorded" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")


def test_empty_store_points_to_the_demo(monkeypatch, tmp_path):
    at = _app(monkeypatch, tmp_path / "empty.db")
    assert not at.exception and not at.error
    assert "Load the demo patients" in at.info[0].value
    assert not at.dataframe

