"""The fast subset of the validation harness (analyzer/validate.py) that CI runs: a few generated
photos per measure, asserting issue 3's targets on the face the analyzer was tuned on (the
astronaut), and what the analyzer truly achieves on a held-out face (Grace Hopper), as a selfie
and downsized to 1.5 px/mm; and the judging of a sample course (analyzer/validate_courses.py)."""

from __future__ import annotations

import dataclasses

import pytest

from analyzer.validate import (
    LIMIT_CARD_FREE_PERCENT,
    LIMIT_CHART_PERCENT,
    collect_face,
    face_report,
    format_report,
    format_summary,
    validate_face,
)
from analyzer.validate_courses import DOWNSIZED_PX_PER_MM, judge_course, validate_courses


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
def held_out_conditions(az):
    return collect_face(az, "hopper", 0.0, quick=True, label="hopper")


@pytest.fixture(scope="module")
def held_out(held_out_conditions):
    r = face_report("hopper", "hopper", 0.0, held_out_conditions, "selfie")
    print("\n" + format_report(r))
    return r


@pytest.fixture(scope="module")
def held_out_downsized(held_out_conditions):
    r = face_report("hopper", "hopper", 0.0, held_out_conditions, "downsized")
    print("\n" + format_report(r))
    return r


def test_held_out_face_is_analysed_and_marked(held_out):
    assert held_out.held_out and held_out.base == "hopper" and held_out.resolution == "selfie"
    assert held_out.failures == []
    assert held_out.chart_found == held_out.chart_photos == 4
    # every card-free photo reports how its light was corrected: 18 of the 24 have no chart
    # (3 + 3 dose, 4 fixed-exposure, 2 face-metered, 3 + 3 texture)
    assert held_out.photos == 24 and sum(held_out.calibration_methods.values()) == 18
    assert sum(held_out.outcomes.values()) == 24
    assert held_out.px_per_mm_measured == pytest.approx(4.4, rel=0.1)


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


def test_face_metered_exposure_follows_the_face(held_out):
    """The two metered conditions (2400 K and 10000 K) get different exposures: the face, not a
    fixed setting, decides it."""
    lo, hi = held_out.metered_exposure_range
    assert 0.5 < lo < hi < 1.5 and hi / lo > 1.1


def test_downsized_photos_are_measured_at_their_own_scale_and_refused(held_out_downsized):
    """Downsized to 1.5 px/mm, the analyzer measures that scale itself and refuses every photo
    as too small (a correct outcome, counted, not a failure); the numbers are still computed."""
    r = held_out_downsized
    assert r.resolution == "downsized" and r.failures == []
    assert r.px_per_mm_measured == pytest.approx(DOWNSIZED_PX_PER_MM, rel=0.1)
    assert r.outcomes == {"accepted": 0, "not_corrected": 0, "refused": 24}
    assert r.accepted_card_free == (0, 6) and r.spread_card_free_accepted_percent != r.spread_card_free_accepted_percent
    assert "photos accepted 0, accepted without light correction 0, refused 24" in format_report(r)


def test_summary_separates_lighter_and_darker_skin(held_out, held_out_downsized):
    darker = dataclasses.replace(held_out, face="hopper, darker skin", melanin_od=0.5)
    lines = format_summary([held_out, held_out_downsized, darker]).splitlines()
    assert lines[0].startswith("SUMMARY BY SKIN TONE")
    rows = [x.split()[:5] for x in lines[2:]]
    assert rows == [
        ["lighter", "(as", "photographed)", "hopper", "selfie"],
        ["lighter", "(as", "photographed)", "hopper", "downsized"],
        ["darker", "(+0.5", "OD)", "hopper", "selfie"],
    ]


# --- flag results: one course judged at both resolutions -----------------------------------------


def test_a_darkening_course_is_never_judged_as_expected(az):
    """The darkening course on the held-out face: at selfie resolution the card-free correction
    does not engage on Hopper, so the right verdict is the flag or "inconclusive"; downsized, no
    photo passes the gate and the verdict must be inconclusive."""
    judged = validate_courses(az, face="hopper", seed=1, courses=("darkening",))
    selfie, small = judged["selfie"][0], judged["downsized"][0]
    assert selfie.photos == small.photos == 9
    assert selfie.right and selfie.status != "as_expected" and selfie.false_warnings == ()
    assert small.status == "inconclusive" and small.judgement == "right (inconclusive)"
    assert small.accepted == 0 and "no_reliable_photo" in small.reasons


def test_judge_course_refuses_an_unknown_course():
    with pytest.raises(ValueError, match="unknown course 'sunburn'; choose one of normal, persistent_redness"):
        judge_course("sunburn", [])
