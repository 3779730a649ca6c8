"""The fast subset of the validation harness (analyzer/validate.py) that CI runs: a few generated
photos per measure, asserting issue 3's targets."""

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
