"""The fast subset of the validation harness (analyzer/validate.py) that CI runs: a few generated
photos per measure, asserting issue 3's targets on the face the analyzer was tuned on (the
astronaut), and what the analyzer truly achieves on a held-out face (Grace Hopper)."""

from __future__ import annotations

import pytest

from analyzer.validate import LIMIT_CARD_FREE_PERCENT, LIMIT_CHART_PERCENT, format_report, validate_face


@pytest.fixture(scope="module")
def report(az):
    r = validate_face(az, "astronaut", 0.0, quick=True)
    print("\n" + format_report(r))
    return r


def test_every_generated_photo_is_analysed(report):
    assert report.failures == []
    assert report.chart_found == report.chart_photos


def test_dose_response_is_monotonic_and_linear(report):
    assert report.dose_rho_neutral == 1.0 and report.dose_rho_lights == 1.0
    assert report.dose_r2_neutral > 0.95 and report.dose_r2_lights > 0.95
    assert report.day1_effect_ei == pytest.approx(5.0, rel=0.15)  # Beer-Lambert: 16.7 EI per OD


def test_lighting_spread_is_within_the_targets_on_the_fast_subset(report):
    """Issue 3's targets on the CI subset (2 held-out lights x 2 rooms, exposure 1).  The full
    grid (3 held-out lights x 3 exposures x 3 rooms, ``python -m analyzer.validate``) does NOT
    meet them yet: see docs/validation.md for the figures and the noise they imply."""
    assert report.spread_card_free_percent <= LIMIT_CARD_FREE_PERCENT
    assert report.spread_chart_percent <= LIMIT_CHART_PERCENT


def test_chart_round_trip_and_texture_separation(report):
    assert report.chart_delta_e00_mean < 2.0
    assert report.flaking_separation > 3.0  # peeling stands out from day-to-day noise
    assert report.texture_separation > 3.0


# --- held-out face: Grace Hopper (nothing in the measurement was tuned on her) ------------------


@pytest.fixture(scope="module")
def held_out(az):
    r = validate_face(az, "hopper", 0.0, base="hopper", quick=True)
    print("\n" + format_report(r))
    return r


def test_held_out_face_is_analysed_and_marked(held_out):
    assert held_out.held_out and held_out.base == "hopper"
    assert held_out.failures == []
    assert held_out.chart_found == held_out.chart_photos == 4
    # every card-free photo reports how its light was corrected: 16 of the 20 have no chart
    assert sum(held_out.calibration_methods.values()) == 16


def test_held_out_dose_response_is_monotonic_under_neutral_light(held_out):
    assert held_out.dose_rho_neutral == 1.0 and held_out.dose_r2_neutral > 0.95
    assert held_out.day1_effect_ei == pytest.approx(5.0, rel=0.15)  # Beer-Lambert, as on the astronaut


def test_held_out_chart_correction_and_peeling(held_out):
    """With a chart the correction does not depend on the face: the round trip is as good as on
    the astronaut and the spread stays within 3 x the target (quick subset: 7.5 %).  Card-free,
    the correction does not engage on this face (docs/validation.md): its spread is printed,
    not asserted."""
    assert held_out.chart_delta_e00_mean < 2.0
    assert held_out.spread_chart_percent < 3 * LIMIT_CHART_PERCENT
    assert held_out.flaking_separation > 2.0
