"""The Research and Methods pages through ``app.py`` (Streamlit's AppTest), with the store
pointed at a test database by ``$ANALYZER_DB_URL``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analyzer.settings import DEFAULT
from tests.ui.conftest import demo_copy

ROOT = Path(__file__).resolve().parents[2]
RESEARCH = "ui/pages/research.py"
METHODS = "ui/pages/methods.py"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, demo_template) -> Path:
    """A copy of the demo store: the four demo patients (research consent given)."""
    return demo_copy(demo_template, tmp_path_factory.mktemp("pages") / "store")


def _open(page: str, db: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("ANALYZER_DB_URL", str(db))
    st.cache_resource.clear()  # ui.state.store() is cached per process
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
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


def test_research_page_deidentified_preview_and_downloads(demo_db, monkeypatch):
    at = _open(RESEARCH, demo_db, monkeypatch)
    _no_failure(at)
    assert at.title[0].value == "Research export"
    statement = at.success[0].value
    assert "De-identified" in statement and "4 included" in statement and "0 left out" in statement
    assert not at.warning
    assert at.toggle(key="research_identified").value is False
    n = _rows(at)
    assert n > 1000
    frame = at.dataframe[0].value
    assert 0 < len(frame) <= n and "name" not in frame.columns and "captured_at" not in frame.columns
    buttons = at.get("download_button")
    assert len(buttons) == 3
    labels = [b.proto.label for b in buttons]
    assert labels == ["CSV + schema (.zip)", "Parquet + schema (.zip)", "JSON + schema (.zip)"]
    assert any(e.label.startswith("Data dictionary") for e in at.expander)
    assert any("`days_since_treatment`" in md.value for md in at.markdown)


def test_research_filters_change_the_rows(demo_db, monkeypatch):
    at = _open(RESEARCH, demo_db, monkeypatch)
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
    assert days.between(0, 3).all()
    at.multiselect(key="research_patients").select("DEMO-1").run()
    assert 0 < _rows(at) < early and set(at.dataframe[0].value["patient"]) == {"DEMO-1"}


def test_identified_toggle_warns(demo_db, monkeypatch):
    at = _open(RESEARCH, demo_db, monkeypatch)
    at.toggle(key="research_identified").set_value(True).run()
    _no_failure(at)
    assert at.warning and "Identified export" in at.warning[0].value
    assert not at.success  # the de-identified statement is gone
    assert "name" in at.dataframe[0].value.columns
    assert len(at.get("download_button")) == 3
    at.toggle(key="research_identified").set_value(False).run()
    assert not at.warning and "name" not in at.dataframe[0].value.columns


def test_methods_page_renders_the_docs(demo_db, monkeypatch):
    at = _open(METHODS, demo_db, monkeypatch)
    _no_failure(at)
    assert at.title[0].value == "Methods"
    assert [t.label for t in at.tabs] == ["How each metric is computed", "How light is corrected", "Quality gate",
                                          "Recovery curve and bands", "Validation", "References"]
    assert any("erythema index" in md.value for md in at.tabs[0].markdown)
    assert any("Spearman rho" in md.value for md in at.tabs[4].markdown)
    values = [m.value for m in at.metric]
    assert values == [f"sd {DEFAULT.redness_noise_sd_card_free_ei:.2f} EI", f"sd {DEFAULT.redness_noise_sd_chart_ei:.2f} EI"]


def test_empty_store_points_to_the_demo(tmp_path, monkeypatch):
    at = _open(RESEARCH, tmp_path / "empty.db", monkeypatch)
    _no_failure(at)
    assert at.info and "Patient" in at.info[0].value and "demo" in at.info[0].value
    assert not at.dataframe and not at.get("download_button")
    at = _open(METHODS, tmp_path / "empty.db", monkeypatch)
    _no_failure(at)
    assert len(at.tabs) == 6


def test_unreadable_store_is_said_in_words(tmp_path, monkeypatch):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database\n" * 200)
    at = _open(RESEARCH, bad, monkeypatch)
    assert not at.exception
    assert at.error and "cannot open or migrate the database" in at.error[0].value
    assert "Traceback" not in at.error[0].value
