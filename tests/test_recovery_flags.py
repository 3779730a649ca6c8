"""Flags on generated series of numbers (no images): a normal course is quiet, each anomaly
raises its code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analyzer.recovery.series import series_from_points
from analyzer.recovery.symptoms import SymptomEntry

from .test_recovery_support import DAYS, TREATED, TREATMENT, normal_day, normal_series, point


def codes(s, severities=("info", "warning", "urgent")):
    return {(f.code, f.severity) for f in s.flags if f.severity in severities}


def test_normal_course_gives_no_warning_or_urgent():
    s = series_from_points(normal_series(), TREATMENT)
    assert codes(s, ("warning", "urgent")) == set()
    assert s.course.peak_source == "fitted"
    assert s.course.peak_excess_ei == pytest.approx(0.33 * 16.7, rel=1e-6)


@pytest.mark.parametrize("seed_shift", [-0.4, 0.0, 0.4])
def test_normal_course_with_noise_sized_wobble_stays_quiet(seed_shift):
    # Each day moved by up to +/-1 sd of the card-free noise: still nothing to report.
    pts = [point(h, redness=normal_day(h)["redness"] + (seed_shift if i % 2 else -seed_shift))
           for i, h in enumerate(DAYS)]
    assert codes(series_from_points(pts, TREATMENT), ("warning", "urgent")) == set()


def _slow(h, t_half=144.0):
    return {"redness": 8.0 + 5.5 * 2 ** (-h / t_half)} if h >= 0 else {}


def test_persistent_redness_warning_then_urgent():
    s = series_from_points(normal_series(over={h: _slow(h) for h in DAYS}), TREATMENT)
    c = codes(s)
    assert ("persistent_redness", "warning") in c and ("persistent_redness", "urgent") in c
    assert ("slow_fading", "info") in c
    first = {f.severity: f.hours for f in s.flags if f.code == "persistent_redness"}
    assert first == {"warning": 72, "urgent": 168}


def test_persistent_redness_only_warning_before_day_7():
    hours = [-24, 3, 24, 48, 72, 96]
    s = series_from_points(normal_series(hours, over={h: _slow(h) for h in hours}), TREATMENT)
    assert ("persistent_redness", "warning") in codes(s)
    assert ("persistent_redness", "urgent") not in codes(s)


def test_small_leftover_redness_is_not_persistent():
    # 1.0 EI above baseline at day 3-7: below 25 % of the 5.5 peak.
    over = {h: {"redness": 9.0} for h in (72, 96, 120, 144, 168)}
    s = series_from_points(normal_series(over=over), TREATMENT)
    assert not any(f.code == "persistent_redness" for f in s.flags)


def test_redness_rebound():
    over = {96: {"redness": 11.0}, 120: {"redness": 11.0}}
    s = series_from_points(normal_series(over=over), TREATMENT)
    flags = [f for f in s.flags if f.code == "redness_rebound"]
    assert flags and flags[0].hours == 96 and flags[0].severity == "warning"
    assert not any(f.code == "persistent_redness" for f in s.flags)  # it had settled first


def test_rise_within_noise_is_not_a_rebound():
    s = series_from_points(normal_series(over={96: {"redness": 8.9}}), TREATMENT)
    assert not any(f.code == "redness_rebound" for f in s.flags)


def test_a_dip_and_the_return_from_it_is_not_a_rebound():
    # Day 10 reads 1.8 EI low (a bad photo that passed), day 11 is back on the course: the rise
    # from day 10 is "real" between the two photos, but not above the course's recent level
    # (the median of days 8-10 less the expected course: 0), so no rebound.
    base = normal_day(240)["redness"]
    s = series_from_points(normal_series(over={240: {"redness": base - 1.8}}), TREATMENT)
    assert s.points[12].point.redness - s.points[11].point.redness > 1.7
    assert not any(f.code == "redness_rebound" for f in s.flags)
    # A real rise after such a dip is still one.
    s = series_from_points(normal_series(over={240: {"redness": base - 1.8}, 264: {"redness": base + 3.0}}),
                           TREATMENT)
    assert [f.hours for f in s.flags if f.code == "redness_rebound"] == [264]


def test_darkening_after_day_5_only():
    late = {h: {"melanin": 0.52} for h in (192, 216, 240)}
    s = series_from_points(normal_series(over=late), TREATMENT)
    d = [f for f in s.flags if f.code == "darkening"]
    assert len(d) == 1 and d[0].hours == 192 and d[0].severity == "warning"
    early = series_from_points(normal_series(over={48: {"melanin": 0.52}}), TREATMENT)
    assert not any(f.code == "darkening" for f in early.flags)


def test_prolonged_peeling():
    s = series_from_points(normal_series(over={264: {"flaking": 3.0}}), TREATMENT)
    assert [f.hours for f in s.flags if f.code == "prolonged_peeling"] == [264]
    # Peeling on days 4-5 is expected.
    assert not any(f.code == "prolonged_peeling" for f in series_from_points(normal_series(), TREATMENT).flags)


def test_poor_photo_is_info_with_reason_and_left_out_of_the_trend():
    pts = normal_series()
    pts[5] = point(96, ok=False, redness=14.0)  # a big jump, but from an unreliable photo
    s = series_from_points(pts, TREATMENT)
    poor = [f for f in s.flags if f.code == "poor_photo"]
    assert len(poor) == 1 and poor[0].severity == "info" and "blurred" in poor[0].message
    assert codes(s, ("warning", "urgent")) == set()


@pytest.mark.parametrize(
    "entries, code, severity",
    [
        ([("pus", 30, 1)], "symptom_urgent", "urgent"),
        ([("pain", 30, 2), ("pain", 54, 5)], "symptom_urgent", "urgent"),
        ([("swelling", 80, 2)], "symptom_urgent", "urgent"),
        ([("warmth", 100, 1)], "symptom_urgent", "urgent"),
        ([("redness", 70, 1), ("redness", 94, 4), ("itching", 95, 3)], "itching_with_redness", "warning"),
    ],
)
def test_symptom_red_flags(entries, code, severity):
    diary = [SymptomEntry(TREATED + timedelta(hours=h), s, lvl) for s, h, lvl in entries]
    s = series_from_points(normal_series(), TREATMENT, diary)
    assert (code, severity) in codes(s)


def test_expected_symptoms_are_quiet():
    diary = [SymptomEntry(TREATED + timedelta(hours=h), s, lvl) for s, h, lvl in [
        ("swelling", 5, 3), ("warmth", 6, 2), ("pain", 2, 4), ("pain", 26, 2), ("itching", 100, 2),
        ("pus", 50, 0),
    ]]
    s = series_from_points(normal_series(), TREATMENT, diary)
    assert codes(s, ("warning", "urgent")) == set()


def test_itching_with_rising_redness_in_photos():
    diary = [SymptomEntry(TREATED + timedelta(hours=100), "itching", 2)]
    s = series_from_points(normal_series(over={96: {"redness": 11.0}}), TREATMENT, diary)
    assert ("itching_with_redness", "warning") in codes(s)


def test_flags_use_the_vocabulary_codes_and_severities():
    from analyzer.recovery.flags import Flag
    from analyzer.vocab import FLAG_CODES, SEVERITIES

    assert Flag("darkening", "warning", 120.0, "m").severity == "warning"
    with pytest.raises(ValueError, match="severity"):
        Flag("darkening", "critical", 120.0, "m")
    with pytest.raises(ValueError, match="code"):
        Flag("sunburn", "warning", 120.0, "m")
    assert set(SEVERITIES) == {"info", "warning", "urgent"} and len(set(FLAG_CODES)) == len(FLAG_CODES) == 8
