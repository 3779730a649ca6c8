"""``analyzer.service.courses``: one rule for which photos belong to which treatment, used by the
dashboard's course view, the observation export and the printable report alike.

The store: the ``normal`` sample course (16 daily photos, 2 to 17 November 2026) imported with
the import use case, and two treatments 10 days apart, the second exactly 2 days after the photo
of 11 November.  That photo is the second treatment's baseline at day -2 everywhere.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from analyzer.recovery.points import Point
from analyzer.recovery.series import series_from_points
from analyzer.recovery.treatment import Treatment
from analyzer.service.access import Actor
from analyzer.service.courses import (
    LATER_BASELINE_H,
    course_index,
    days_since,
    distance_from_expected,
    flags_most_severe_first,
    treatment_course,
    typical_noise_sd,
)
from analyzer.service.export import build_observations, export_observations
from analyzer.service.imports import import_photos
from analyzer.store import add_treatment, open_store
from analyzer.store.query import patient_treatments, stored_results

OP = Actor.operator()
from analyzer.ui.services.patient import course_view
from analyzer.ui.services.practice import report_html

NORMAL = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))
PIVOT = "IMG_20261111_091055.jpg"
"""The photo taken 2 days before the second treatment."""


@pytest.fixture(scope="module")
def two_treatments(tmp_path_factory, az, consented):
    """(store, capture time of PIVOT, first treatment time, second treatment time)."""
    store = open_store(tmp_path_factory.mktemp("courses") / "a.db")
    consented(store, "P1")
    summary = import_photos(store, NORMAL, patient="P1", actor=OP, analyzer=az)
    assert summary.ok
    pivot = next(p for p in stored_results(store, "P1") if p.original_name == PIVOT).result.captured_at
    second = pivot + timedelta(days=2)
    first = second - timedelta(days=10)
    add_treatment(store, "P1", Treatment(first, needle_depth_mm=1.0))
    add_treatment(store, "P1", Treatment(second, needle_depth_mm=1.0))
    yield store, pivot, first, second
    store.close()


def test_the_photo_two_days_before_the_second_treatment_is_its_baseline_everywhere(two_treatments, az, tmp_path):
    store, pivot, first, second = two_treatments
    (id1, _), (id2, _) = patient_treatments(store, "P1")

    # the dashboard's course view
    later = course_view(store, "P1", actor=OP, treatment_id=id2)
    row = later.points[later.points["file"] == PIVOT]
    assert len(row) == 1 and row["day"].iloc[0] == pytest.approx(-2.0, abs=1e-9)
    assert PIVOT in later.series.baseline.photos and not later.series.baseline_estimated
    assert PIVOT not in set(course_view(store, "P1", actor=OP, treatment_id=id1).points["file"])

    # the export (identified, to see which treatment it counted from)
    export_observations(store, tmp_path / "o.csv", actor=OP, identified=True, log=lambda m: None)
    df = pd.read_csv(tmp_path / "o.csv")
    mine = df[df["captured_at"] == pivot.isoformat()]
    assert len(mine) > 0
    assert list(mine["days_since_treatment"].unique()) == [pytest.approx(-2.0, abs=1e-4)]
    assert set(mine["treated_at"]) == {second.isoformat()}

    # the printable report (of the latest treatment): its table row for that photo says day -2.0
    report = report_html(store, az, "P1", now=second + timedelta(days=5), actor=OP, with_overlay=False)
    assert f"<td class='num'>-2.0</td><td>{pivot:%Y-%m-%d %H:%M}</td>" in report


def test_export_and_dashboard_agree_on_every_photo(two_treatments):
    """Each photo has one treatment and one day: the export's equals the course view's."""
    store, *_ = two_treatments
    obs = build_observations(store, actor=OP, identified=True).table
    export_days = obs.groupby("photo_sha256")["days_since_treatment"].first()
    dashboard_days = pd.concat([course_view(store, "P1", actor=OP, treatment_id=tid).points
                                .set_index("sha256")["day"] for tid, _ in patient_treatments(store, "P1")])
    assert not dashboard_days.index.duplicated().any()  # no photo in two courses
    assert set(dashboard_days.index) == set(export_days.index)
    for sha, day in dashboard_days.items():
        assert export_days[sha] == pytest.approx(day, abs=1e-4), sha


def test_the_first_course_ends_before_the_later_baseline_window(two_treatments):
    store, pivot, first, second = two_treatments
    (id1, _), (id2, _) = patient_treatments(store, "P1")
    a = treatment_course(store, "P1", actor=OP, treatment_id=id1)
    b = treatment_course(store, "P1", actor=OP, treatment_id=id2)
    assert a.treatment.treated_at == first and b.treatment.treated_at == second
    hours_a = [sp.point.hours for sp in a.series.points]
    hours_b = [sp.point.hours for sp in b.series.points]
    assert max(hours_a) <= 10 * 24 - LATER_BASELINE_H  # day 7 of the first (3 days before the second) stays
    assert -LATER_BASELINE_H < min(hours_b) < 0
    assert len(hours_a) + len(hours_b) == len(NORMAL)
    assert treatment_course(store, "P1", actor=OP).treatment_id == id2  # the latest by default
    assert b.sha256_of(PIVOT) is not None and b.sha256_of("nothing.jpg") is None


# --- the rule on hand-made times -------------------------------------------------------------------

T1 = datetime(2026, 11, 1, 9, 0)
T2 = datetime(2026, 11, 11, 9, 0)


@pytest.mark.parametrize(("when", "index"), [
    (datetime(2026, 10, 20, 9, 0), 0),  # before the first: the first's baseline
    (T1, 0),  # at the treatment: its course
    (T2 - timedelta(hours=72), 0),  # exactly 72 h before the second: still the first's
    (T2 - timedelta(hours=71, minutes=59), 1),  # inside the window: the second's baseline
    (T2 - timedelta(days=2), 1),
    (T2, 1),
    (T2 + timedelta(days=30), 1),
    (None, None),  # no capture time: no course
])
def test_course_index(when, index):
    assert course_index(when, [T1, T2]) == index


def test_course_index_with_treatments_closer_than_the_window():
    second = T1 + timedelta(hours=24)
    assert course_index(T1 + timedelta(hours=1), [T1, second]) == 1  # after the first, before the second
    assert course_index(T1, [T1, second]) == 0  # taken at the first: its own course
    assert course_index(T1 - timedelta(hours=1), [T1, second]) == 0
    assert course_index(T1, []) is None


def test_days_since_counts_elapsed_time_when_both_offsets_are_known():
    cet, cest = timezone(timedelta(hours=1)), timezone(timedelta(hours=2))
    # 3 days later on the wall clock, but the clocks went back an hour in between: 3 days + 1 h
    assert days_since(datetime(2026, 10, 28, 9, tzinfo=cet), datetime(2026, 10, 25, 9, tzinfo=cest)) == \
        pytest.approx(3 + 1 / 24)
    # one of them naive: wall clock
    assert days_since(datetime(2026, 10, 28, 9), datetime(2026, 10, 25, 9, tzinfo=cest)) == pytest.approx(3.0)
    assert days_since(None, T1) is None and days_since(T1, None) is None


# --- noise and distance on made-up numbers --------------------------------------------------------------


def _point(hours: float, redness: float, sd: float, ok: bool = True) -> Point:
    return Point(file=f"{hours:g}h.jpg", captured_at=T1 + timedelta(hours=hours), hours=hours, redness=redness,
                 melanin=1.0, texture=2.5, flaking=0.0, redness_sd=sd, melanin_sd=0.02, texture_sd=0.1,
                 flaking_sd=0.4, quality_ok=ok)


def test_distance_and_typical_noise_by_hand():
    # baseline: one photo, 10.0 EI with sd 0.4; after: 0.3 (good), 0.3 (good, latest), 2.0 (poor, later)
    series = series_from_points([_point(-24, 10.0, 0.4), _point(24, 14.0, 0.3), _point(48, 12.0, 0.3),
                                 _point(72, 30.0, 2.0, ok=False)], Treatment(T1))
    assert series.baseline.redness == 10.0 and series.baseline.redness_sd == pytest.approx(0.4)
    latest = next(sp for sp in series.points if sp.point.hours == 48)
    z, day = distance_from_expected(series)
    assert day == 2.0  # the latest *good* photo after the treatment
    assert z == pytest.approx((2.0 - latest.expected_excess) / 0.5)  # sqrt(0.3² + 0.4²) = 0.5
    # the median good photo's sd (good: 0.4 before, 0.3, 0.3 after -> 0.3) with the baseline's
    assert typical_noise_sd(series) == pytest.approx(0.5)


def test_distance_without_a_good_photo_after_the_treatment():
    series = series_from_points([_point(-24, 10.0, 0.4), _point(24, 14.0, 0.3, ok=False)], Treatment(T1))
    z, day = distance_from_expected(series)
    assert math.isnan(z) and day is None


def test_flags_most_severe_first():
    series = series_from_points([_point(-24, 10.0, 0.4), _point(24, 14.0, 0.3, ok=False),
                                 _point(8 * 24, 16.0, 0.3)], Treatment(T1))
    ordered = flags_most_severe_first(series.flags)
    assert [f.severity for f in ordered][0] == "urgent" and ordered[-1].severity == "info"
    ranks = ["urgent", "warning", "info"]
    assert [ranks.index(f.severity) for f in ordered] == sorted(ranks.index(f.severity) for f in ordered)
