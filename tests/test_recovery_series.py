"""analyze_series on PhotoResult-like inputs: order, duplicates, missing times, single photos,
no baseline, failed photos, repeats, and the JSON contract."""

from __future__ import annotations

import json

import pytest

from analyzer.recovery import analyze_series
from analyzer.result import PhotoResult, QualityIssue

from .test_recovery_support import DAYS, TREATMENT, result

CONTRACT_POINT_KEYS = {"file", "captured_at", "hours", "redness", "redness_excess", "expected_excess",
                       "expected_low", "expected_high", "noise", "melanin", "texture", "flaking", "quality_ok"}


def normal_results():
    return [result(h) for h in DAYS]


def test_json_contract_keys():
    d = analyze_series(normal_results(), TREATMENT).to_dict()
    json.dumps(d)
    assert {"treated_at", "needle_depth_mm", "baseline", "points", "flags"} <= set(d)
    assert set(d["baseline"]) >= {"redness", "melanin", "texture", "flaking", "photos"}
    assert d["baseline"]["photos"] == ["IMG_-24.jpg"] and d["baseline_estimated"] is False
    assert all(CONTRACT_POINT_KEYS <= set(p) for p in d["points"])
    assert d["treated_at"] == "2026-11-03T09:00:00+01:00" and d["needle_depth_mm"] == 1.0
    # The made-up course is exact, so the series is quieter than the prior: 16 photos, 13
    # second differences used (not those across the treatment; the first differences keep a
    # rounding residue, the second none), nu = 3.25, observed 0:
    # s = 0.41 x sqrt(4 / 7.25) = 0.30454 EI, and 2 sqrt(2) s = 0.8614 (1.16 with the prior alone).
    assert d["smallest_real_change"] == pytest.approx(0.8614, abs=1e-4)
    assert d["noise"]["source"] == "series" and d["noise"]["redness_sd"] == pytest.approx(0.3045, abs=1e-4)
    assert d["noise"]["redness_prior_sd"] == 0.41 and d["noise"]["photos"] == 16
    assert d["points"][1]["aftercare"] and d["points"][0]["aftercare"] == []
    for f in d["flags"]:
        assert set(f) >= {"code", "severity", "hours", "message"}


def test_out_of_order_input_is_sorted_by_capture_time():
    shuffled = normal_results()[::-1]
    s = analyze_series(shuffled, TREATMENT)
    hours = [p.point.hours for p in s.points]
    assert hours == sorted(hours) == DAYS


def test_duplicates_are_dropped_and_reported():
    rs = normal_results()
    s = analyze_series(rs + [rs[3]], TREATMENT)
    assert len(s.points) == len(DAYS)
    assert [f for f, _ in s.skipped] == [rs[3].file]
    assert "duplicate" in s.skipped[0][1]


def test_photo_without_capture_time_is_skipped_with_a_clear_reason():
    rs = normal_results() + [result(None, "nodate.png")]
    s = analyze_series(rs, TREATMENT)
    (f, why), = s.skipped
    assert f == "nodate.png" and "no capture time" in why and "--date" in why


def test_failed_photo_is_reported_and_does_not_stop_the_series():
    rs = normal_results() + [PhotoResult.failed("broken.jpg", "broken.jpg: not a photo")]
    s = analyze_series(rs, TREATMENT)
    assert len(s.points) == len(DAYS) and s.skipped == (("broken.jpg", "broken.jpg: not a photo"),)


def test_nothing_usable():
    s = analyze_series([PhotoResult.failed("a.jpg", "bad")], TREATMENT)
    assert s.points == () and s.baseline is None
    d = s.to_dict()
    assert d["points"] == [] and d["baseline"] is None


def test_single_photo_after_treatment():
    s = analyze_series([result(48)], TREATMENT)
    assert len(s.points) == 1 and s.baseline_estimated
    assert s.course.peak_source == "protocol_default"
    assert not [f for f in s.flags if f.severity != "info"]
    d = s.to_dict()
    assert d["baseline"] is None and d["estimated_baseline"] is not None and d["baseline_estimated"]


def test_single_baseline_photo():
    s = analyze_series([result(-24)], TREATMENT)
    assert len(s.points) == 1 and not s.baseline_estimated and s.flags == ()


def test_no_baseline_estimates_it_and_says_so_everywhere():
    rs = [result(h) for h in DAYS if h >= 0]
    s = analyze_series(rs, TREATMENT)
    assert s.baseline_estimated and s.baseline.redness == pytest.approx(8.0, abs=0.05)
    assert any("estimated" in n for n in s.notes)
    assert not [f for f in s.flags if f.severity != "info"]
    # An anomaly is still found, and its message says the baseline is an estimate.
    rs = [result(h, redness=11.0) if h in (96, 120) else result(h) for h in DAYS if h >= 0]
    flags = [f for f in analyze_series(rs, TREATMENT).flags if f.code == "redness_rebound"]
    assert flags and "estimated baseline" in flags[0].message


def test_repeat_photos_widen_the_noise_to_their_spread():
    rs = normal_results() + [result(48.2, "IMG_48b.jpg", redness=normal_result_redness(48) + 2.0)]
    s = analyze_series(rs, TREATMENT)
    pair = [p.point for p in s.points if 47 < p.point.hours < 49]
    assert len(pair) == 2 and all(p.redness_sd == pytest.approx(2.0 / 2 ** 0.5) for p in pair)


def normal_result_redness(h):
    return result(h).face.redness


def test_poor_quality_photo_flag_and_inflated_noise():
    bad = result(96, "blurry.jpg", issues=(QualityIssue("blurred", "The photo is blurred: hold still."),))
    s = analyze_series([r for r in normal_results() if r.file != "IMG_96.jpg"] + [bad], TREATMENT)
    p = next(p for p in s.points if p.point.file == "blurry.jpg")
    # Its prior 0.41 x 1.5 = 0.615; the 15 reliable photos (12 second differences used,
    # nu = 3.0) give s^2 = 4 x 0.1681 / 7 = 0.096057; its sd = sqrt(s^2 + 0.615^2 - 0.41^2) = 0.55334.
    assert not p.point.quality_ok and p.point.redness_sd == pytest.approx(0.55334, abs=1e-5)
    (f,) = [f for f in s.flags if f.code == "poor_photo"]
    assert f.severity == "info" and "blurred" in f.message


def test_chart_photos_have_the_smaller_noise():
    s = analyze_series([result(h, chart=True) for h in DAYS], TREATMENT)
    # The chart prior 0.13 EI, narrowed by the exact course as above: 0.13 x sqrt(4 / 7.25).
    assert s.smallest_real_change == pytest.approx(2 * 2 ** 0.5 * 0.13 * (4 / 7.25) ** 0.5)
