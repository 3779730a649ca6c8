"""``analyzer.ui.services.practice``: the triage table and the printable report, on the four demo patients
(built once for the module) plus two patients without photos.

The demo courses (``sample_images/README.md``): DEMO-1 heals as expected (no flag), DEMO-2's
redness does not fade (urgent + warning + info), DEMO-3's redness comes back (warning), DEMO-4
darkens (warning).
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from analyzer import __version__
from analyzer.service import courses
from analyzer.store.db import StoreError
from analyzer.ui.services import practice
from analyzer.ui.services.common import DEMO_TREATED_AT, open_app_store
from analyzer.ui.services.patient import course_view, create_patient, save_treatment, timeline
from analyzer.ui.services.practice import (
    SEVERITY_LABELS,
    TRIAGE_COLUMNS,
    key_photos,
    report_file_name,
    report_html,
    triage,
)
from analyzer.vocab import TRIAGE_ORDER
from tests.ui.conftest import OP, demo_copy

ROOT = Path(__file__).resolve().parents[2]
NOW = DEMO_TREATED_AT + timedelta(days=10)
"""Ten days after the demo treatment: every demo photo is in the past."""
ANN = ("P-ANN", "<b>Ann</b> & Co")
"""A treated patient without photos, whose name needs escaping."""
EMPTY = ("P-EMPTY", "Nobody yet")
"""A patient with neither photos nor treatment."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("practice")


@pytest.fixture(scope="module")
def store(folder, demo_template):
    s = open_app_store(demo_copy(demo_template, folder / "store"))
    create_patient(s, *ANN, actor=OP)
    save_treatment(s, ANN[0], DEMO_TREATED_AT, 1.0, actor=OP)
    create_patient(s, *EMPTY, actor=OP)
    yield s
    s.close()


@pytest.fixture(scope="module")
def table(store) -> pd.DataFrame:
    return triage(store, now=NOW, actor=OP)


@pytest.fixture(scope="module")
def report(store, az) -> str:
    return report_html(store, az, "DEMO-2", now=NOW, actor=OP)


# --- triage ----------------------------------------------------------------------------------------


def test_triage_columns_and_one_row_per_patient(table):
    assert list(table.columns) == list(TRIAGE_COLUMNS)
    assert sorted(table["pseudonym"]) == ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4", "P-ANN", "P-EMPTY"]


def test_triage_order_most_severe_then_farthest(table):
    order = list(table["pseudonym"])
    assert order[0] == "DEMO-2"
    assert set(order[1:3]) == {"DEMO-3", "DEMO-4"}
    assert order[3] == "DEMO-1"
    assert set(order[4:]) == {"P-ANN", "P-EMPTY"}
    assert list(table["severity"][:4]) == ["urgent", "warning", "warning", "none"]
    warnings = table[table["severity"] == "warning"]["distance"].abs()
    assert warnings.is_monotonic_decreasing and warnings.iloc[0] > warnings.iloc[1]


def test_triage_flags_and_what_to_do_come_from_the_latest_course(store, table):
    row = table.set_index("pseudonym").loc["DEMO-2"]
    view = course_view(store, "DEMO-2", now=NOW, actor=OP)
    urgent = view.flags[view.flags["severity"] == "urgent"].iloc[0]
    assert row["what_to_do"] == urgent["message"]
    assert row["flags"].split(", ")[0] == "persistent_redness"
    assert set(row["flags"].split(", ")) == set(view.flags["code"])
    assert table.set_index("pseudonym").loc["DEMO-1", "flags"] == ""
    assert table.set_index("pseudonym").loc["DEMO-1", "what_to_do"] == ""


def test_triage_distance_is_signed_z_of_the_latest_good_photo(store, table):
    by = table.set_index("pseudonym")
    for who in ("DEMO-2", "DEMO-4"):
        view = course_view(store, who, now=NOW, actor=OP)
        last = view.points[view.points["quality_ok"] & (view.points["hours"] >= 0)].iloc[-1]
        sd = math.hypot(last["noise"], view.series.baseline.redness_sd)
        assert by.loc[who, "distance"] == pytest.approx((last["excess"] - last["expected"]) / sd, rel=1e-9)
    assert by.loc["DEMO-2", "distance"] > 2  # redness that will not fade: far above the curve
    assert by.loc["DEMO-4", "distance"] < 0  # darkening: less red than expected


def test_triage_days_since_treatment_and_last_photo(table):
    by = table.set_index("pseudonym")
    assert by.loc["DEMO-1", "days_since_treatment"] == pytest.approx(10.0)
    assert by.loc["DEMO-1", "photos"] == 16
    assert str(by.loc["DEMO-1", "last_photo"]) == "2026-11-17"


def test_triage_lists_patients_without_photos_with_a_status(table):
    by = table.set_index("pseudonym")
    for who in ("P-ANN", "P-EMPTY"):
        assert by.loc[who, "severity"] == "not assessed"
        assert math.isnan(by.loc[who, "distance"])
        assert by.loc[who, "photos"] == 0
    assert by.loc["P-ANN", "status"] == "No photos yet."
    assert by.loc["P-ANN", "days_since_treatment"] == pytest.approx(10.0)
    assert "no treatment" in by.loc["P-EMPTY", "status"]


def test_triage_shows_a_failing_patient_in_plain_words(store, monkeypatch):
    real = courses.course_of  # what the triage use case reads each course with (no audit per row)

    def broken(store, pseudonym, **kw):
        if pseudonym == "DEMO-3":
            raise RuntimeError("Traceback (most recent call last): secret internals")
        return real(store, pseudonym, **kw)

    monkeypatch.setattr(courses, "course_of", broken)
    df = triage(store, now=NOW, actor=OP).set_index("pseudonym")
    assert len(df) == 6
    assert df.loc["DEMO-3", "severity"] == "not assessed"
    assert df.loc["DEMO-3", "status"].startswith("Could not be assessed: Something went wrong (RuntimeError)")
    assert "Traceback" not in df.loc["DEMO-3", "status"]
    assert df.loc["DEMO-2", "severity"] == "urgent"


def test_triage_of_an_empty_store(tmp_path):
    s = open_app_store(tmp_path / "empty.db")
    try:
        df = triage(s, now=NOW, actor=OP)
    finally:
        s.close()
    assert df.empty and list(df.columns) == list(TRIAGE_COLUMNS)


# --- the report --------------------------------------------------------------------------------------


def test_key_photos_are_baseline_peak_and_latest(store):
    view = course_view(store, "DEMO-2", now=NOW, actor=OP)
    keys = key_photos(view, timeline(store, "DEMO-2", view.treatment, actor=OP))
    assert [k.role for k in keys] == ["baseline", "peak", "latest"]
    after = view.points[view.points["hours"] >= 0]
    assert keys[0].point["file"] == view.series.baseline.photos[0]
    assert keys[1].point["excess"] == after["excess"].max()
    assert keys[2].point["file"] == after["file"].iloc[-1]


def test_report_has_the_flags_with_severity_and_message(store, report):
    view = course_view(store, "DEMO-2", now=NOW, actor=OP)
    for f in view.flags.itertuples():
        assert html.escape(f.message) in report
    for label in ("Urgent", "Warning", "Info"):
        assert f'class="badge {label.lower()}">{label}</span>' in report


def test_report_has_the_charts_as_inline_svg(report):
    assert report.count("<svg") == 4  # recovery + flaking, texture, melanin
    assert "Days since treatment" in report  # the charts' axis title, drawn as SVG text


def test_report_photos_are_reencoded_jpeg_without_metadata(report):
    uris = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(uris) == 4  # baseline, peak, latest, and the latest's overlay
    for b64 in uris:
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert img.format == "JPEG"
        assert not img.getexif() and "exif" not in img.info
    first = Image.open(io.BytesIO(base64.b64decode(uris[0])))
    assert first.size == (practice.KEY_PHOTO_SIZE, practice.KEY_PHOTO_SIZE)


def test_report_is_self_contained_and_leaks_no_store_path(store, folder, report):
    assert "<script" not in report
    assert not re.search(r'(src|href)="(https?:|file:|/)', report)
    assert str(folder) not in report
    for p in timeline(store, "DEMO-2", None, actor=OP):
        assert p.stored_path not in report


def test_report_facts_noise_version_and_confidentiality(store, report):
    view = course_view(store, "DEMO-2", now=NOW, actor=OP)
    assert "Confidential: contains health data" in report
    assert html.escape("Demo: redness that will not fade") in report and "DEMO-2" in report
    assert f"smaller than {view.series.smallest_real_change:.2f} EI" in report
    assert __version__ in report
    assert "Generated 2026-11-13 09:00 (UTC+01:00)" in report
    assert "1 mm" in report and "Days since treatment</dt><dd>10.0" in report
    for p in view.points.itertuples():  # one table row per photo
        assert f"<td class='num'>{p.excess:+.2f} ± " in report
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
    assert "@media print" in report


def test_report_escapes_the_display_name(store, az):
    out = report_html(store, az, ANN[0], now=NOW, actor=OP)
    assert "<b>Ann</b>" not in out
    assert "&lt;b&gt;Ann&lt;/b&gt; &amp; Co" in out
    assert "No analysed photo in this course yet." in out
    assert "<svg" in out  # the expected curve is drawn even without photos


def test_report_of_an_unknown_patient_says_so(store, az):
    with pytest.raises(StoreError, match="no such patient"):
        report_html(store, az, "NOBODY", now=NOW, actor=OP)


def test_report_of_a_patient_without_treatment(store, az):
    out = report_html(store, az, EMPTY[0], now=NOW, actor=OP)
    assert "No treatment is recorded" in out and "Confidential" in out


def test_report_file_name():
    when = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    assert report_file_name("DEMO-2", when) == "report-DEMO-2-2026-11-24.html"
    assert report_file_name("../a b", when) == "report-___a_b-2026-11-24.html"


def test_distance_without_a_photo_after_treatment_is_nan(store):
    view = course_view(store, "P-ANN", now=NOW, actor=OP)
    z, day = view.distance
    assert math.isnan(z) and day is None


def test_every_triage_state_has_a_label_and_the_table_uses_only_those(table):
    assert list(SEVERITY_LABELS) == list(TRIAGE_ORDER)
    assert set(table["severity"]) <= set(TRIAGE_ORDER)


# --- layering ----------------------------------------------------------------------------------------


def test_practice_does_not_import_streamlit():
    code = ("import sys, analyzer.ui.services.practice; "
            "bad = [m for m in sys.modules if m == 'streamlit' or m.startswith('streamlit.')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout + r.stderr
