"""The expected curve, the half-life table, the protocol files and the noise, against values
worked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analyzer.recovery import course, noise
from analyzer.recovery.aftercare import aftercare_for
from analyzer.recovery.treatment import PROTOCOLS, RecoveryError, Treatment, load_protocol
from analyzer.result import Calibration, QualityIssue

from .test_recovery_support import TREATED, result


def test_expected_excess_hand_values():
    # E(t) = E0 2^(-t/t_half): one half-life halves, two quarter, 72 h at 22 h -> 2^(-3.2727) = 0.125 x 0.8278 = 0.10347.
    assert course.expected_excess(0, 5.0, 22) == 5.0
    assert course.expected_excess(22, 5.0, 22) == pytest.approx(2.5)
    assert course.expected_excess(44, 5.0, 22) == pytest.approx(1.25)
    assert course.expected_excess(72, 5.5, 22) == pytest.approx(5.5 * 0.10347, rel=1e-4)
    assert course.expected_excess(-5, 5.0, 22) == 0.0


def test_half_life_by_depth_interpolates_and_clamps():
    p = PROTOCOLS["default"]
    assert p.half_life_for_depth(1.0) == 22.0
    assert p.half_life_for_depth(0.75) == pytest.approx(19.0)  # halfway 16 -> 22
    assert p.half_life_for_depth(1.25) == pytest.approx(26.0)  # halfway 22 -> 30
    assert p.half_life_for_depth(0.25) == 12.0 and p.half_life_for_depth(2.5) == 46.0
    assert p.half_life_for_depth(0.1) == 12.0 and p.half_life_for_depth(3.0) == 46.0
    assert p.half_life_for_depth(0.5) < p.half_life_for_depth(1.0) < p.half_life_for_depth(2.0)


def test_band_and_course():
    c = course.ExpectedCourse.for_treatment(PROTOCOLS["default"], 1.0, 4.0)
    assert c.peak_source == "fitted" and c.half_life_h == 22
    assert (c.half_life_low_h, c.half_life_high_h) == pytest.approx((16.5, 29.7))
    lo, hi = c.band(22)
    assert lo == pytest.approx(4 * 2 ** (-22 / 16.5)) and hi == pytest.approx(4 * 2 ** (-22 / 29.7))
    assert c.at(22) == pytest.approx(2.0) and lo < 2.0 < hi
    d = course.ExpectedCourse.for_treatment(PROTOCOLS["default"], 1.0, None)
    assert d.peak_source == "protocol_default" and d.peak_excess_ei == 5.5


def test_fit_peak_back_extrapolates():
    # 2.5 EI at 22 h with t_half 22 -> E0 5; a photo outside the window is ignored.
    assert course.fit_peak_excess([(22, 2.5, 0.4), (100, 9.0, 0.4)], 22, 24) == pytest.approx(5.0)
    # two equal-sd photos at 0 h and 22 h estimating 4 and 6: weights 1 and 1/4 -> 4.4
    assert course.fit_peak_excess([(0, 4, 1), (22, 3, 1)], 22, 24) == pytest.approx(4.4)
    assert course.fit_peak_excess([(30, 1, 1)], 22, 12) is None


def test_noise_from_calibration_and_quality():
    assert noise.photo_noise(result(24)).redness == pytest.approx(0.41)
    assert noise.photo_noise(result(24, chart=True)).redness == pytest.approx(0.13)
    blurred = result(24, issues=(QualityIssue("blurred", "blurred"),))
    assert noise.photo_noise(blurred).redness == pytest.approx(0.41 * 1.5)
    r = result(24, chart=True)
    import dataclasses
    r = dataclasses.replace(r, calibration=Calibration("colorchecker", True, 1.2))
    assert noise.photo_noise(r).redness == pytest.approx(0.13 * 2)
    assert noise.smallest_real_change(0.41) == pytest.approx(2 * math.sqrt(2) * 0.41)
    assert noise.smallest_real_change(0.41) == pytest.approx(1.16, abs=0.01)
    assert noise.difference_threshold(0.3, 0.4) == pytest.approx(1.0)
    assert noise.repeat_sd([1.0, 3.0]) == pytest.approx(math.sqrt(2)) and noise.repeat_sd([1.0]) is None


def test_treatment_validation_and_hours():
    with pytest.raises(RecoveryError, match="outside"):
        Treatment(TREATED, 3.0)
    t = Treatment(TREATED, 0.25)
    from datetime import datetime
    assert t.hours_since(datetime.fromisoformat("2026-11-04T08:00:00+00:00")) == pytest.approx(24.0)
    with pytest.raises(RecoveryError, match="not a known protocol"):
        _ = Treatment(TREATED, 1.0, protocol="nope").curve


def test_protocol_file_round_trip_and_errors(tmp_path: Path):
    src = Path(__file__).parents[1] / "analyzer/recovery/protocols/default.toml"
    text = src.read_text().replace('name = "default"', 'name = "deep"').replace(
        "default_peak_excess_ei = 5.5", "default_peak_excess_ei = 7.0")
    f = tmp_path / "deep.toml"
    f.write_text(text)
    p = load_protocol(f)
    assert p.name == "deep" and p.default_peak_excess_ei == 7.0
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("rebound_after_h = 24.0", ""))
    with pytest.raises(RecoveryError, match="missing rebound_after_h"):
        load_protocol(bad)
    bad.write_text("x = [")
    with pytest.raises(RecoveryError, match="not valid TOML"):
        load_protocol(bad)


def test_aftercare_by_day():
    keys = lambda h: {a.key for a in aftercare_for(h)}
    assert keys(-5) == set()
    assert {"no_workout_sauna", "no_makeup_actives", "spf", "moisturiser", "no_exfoliants"} <= keys(3)
    assert "no_workout_sauna" not in keys(30) and "no_makeup_actives" in keys(48)
    assert "no_makeup_actives" not in keys(80) and "no_exfoliants" in keys(150)
    assert keys(200) == {"moisturiser", "spf"} and keys(1000) == {"spf"}
