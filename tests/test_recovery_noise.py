"""The series' own noise (analyzer.recovery.noise.series_noise), pooled with the prior, and what
it does to the band, the flags' sds and the verdict; the figures worked by hand."""

from __future__ import annotations

import math

import pytest

from analyzer.recovery import noise
from analyzer.recovery.series import series_from_points

from .test_recovery_support import DAYS, TREATMENT, normal_day, point

MAD = 1.4826
PRIOR = 0.41
"""The made-up points' redness sd: the card-free prior."""
PRE = [-192, -168, -144, -120, -96, -72, -48, -24]
POST = [3, 24, 48, 72]


def steady_post(a: float):
    """Eight photos before the treatment alternating +a, -a around 8.0 EI, then four exact photos
    of the default course.  The offsets sum to 0 and sit where the expected course is 0, so the
    least-squares fit of the course's shape does not move and the residuals are the offsets:
    seven differences of 2a (over sqrt(2): sqrt(2) a), the one across the treatment left out,
    three of 0."""
    pts = [point(h, redness=8.0 + (a if i % 2 == 0 else -a)) for i, h in enumerate(PRE)]
    return series_from_points(pts + [point(h) for h in POST], TREATMENT)


def pooled(s_obs: float, n: int, prior: float = PRIOR) -> float:
    nu = 0.25 * n
    return math.sqrt((4 * prior ** 2 + nu * s_obs ** 2) / (4 + nu))


def test_known_scatter_gives_the_pooled_sd_worked_by_hand():
    s = steady_post(0.3)
    n = s.noise
    # Ten differences: 0.424264 seven times, 0 three times; the median (5th and 6th) is 0.424264,
    # s_obs = 1.4826 x 0.424264 = 0.629014 EI.
    assert n.redness_differences == 10 and n.source == "series" and n.photos == 12
    assert n.redness_observed_sd == pytest.approx(0.629014, abs=5e-7)
    # nu = 0.25 x 10 = 2.5; s^2 = (4 x 0.1681 + 2.5 x 0.395658) / 6.5 = 0.255622; s = 0.505591.
    assert n.redness_sd == pytest.approx(0.505591, abs=5e-7)
    # Every photo has the typical prior, so its sd is the series' own.
    assert all(sp.point.redness_sd == pytest.approx(n.redness_sd) for sp in s.points)
    # The baseline is the median of the eight: its sd s x 1.2533 / sqrt(8) = 0.224032.
    assert s.baseline.redness_sd == pytest.approx(0.224032, abs=5e-7)
    # Melanin is flat and exact here: s_obs = 0 over 11 differences (none left out), nu = 2.75:
    # s = 0.02 x sqrt(4 / 6.75) = 0.015396 OD.
    assert n.melanin_observed_sd == 0.0 and n.melanin_differences == 11
    assert n.melanin_sd == pytest.approx(0.02 * math.sqrt(4 / 6.75))
    d = s.to_dict()["noise"]
    assert d == {"redness_sd": 0.5056, "melanin_sd": 0.0154, "redness_prior_sd": 0.41,
                 "melanin_prior_sd": 0.02, "redness_observed_sd": 0.629, "melanin_observed_sd": 0.0,
                 "source": "series", "photos": 12}


def test_the_residuals_are_those_of_the_expected_course_shape():
    # On the exact default course (8 + 5.511 x 2^(-t/22)) the fit leaves nothing.
    pts = [point(h) for h in [-24] + POST]
    r = noise.course_residuals([p.hours for p in pts], [p.redness for p in pts], 22.0)
    assert max(abs(x) for x in r) < 1e-9
    # Before the treatment only: the mean is taken out.
    assert noise.course_residuals([-48, -24], [7.0, 9.0], 22.0) == [-1.0, 1.0]


def test_three_times_the_scatter_widens_the_band_and_raises_the_detectable_change():
    quiet, base, noisy = steady_post(0.0), steady_post(0.3), steady_post(0.9)
    # s_obs triples: 1.887042 EI; s^2 = (0.6724 + 2.5 x 3.560926) / 6.5 = 1.473033, s = 1.213686.
    assert noisy.noise.redness_observed_sd == pytest.approx(3 * base.noise.redness_observed_sd)
    assert noisy.noise.redness_sd == pytest.approx(1.213686, abs=5e-7)
    # A quiet series narrows it below the prior: s = 0.41 x sqrt(4 / 6.5) = 0.32164.
    assert quiet.noise.redness_sd == pytest.approx(PRIOR * math.sqrt(4 / 6.5))
    for a, b in ((quiet, base), (base, noisy)):
        for pa, pb in zip(a.points, b.points):
            assert pb.expected_high - pb.expected_low > pa.expected_high - pa.expected_low
    # detectable_change = 2 sqrt(sd_photo^2 + sd_baseline^2) on the same sds:
    # 2 s sqrt(1 + (1.2533 / sqrt(8))^2) = 2.187551 s.
    for s in (quiet, base, noisy):
        assert s.assessment.detectable_change == pytest.approx(2.18755 * s.noise.redness_sd, rel=1e-5)
    assert noisy.assessment.detectable_change == pytest.approx(2.6550, abs=5e-5)
    # With the prior alone it would be 2.18755 x 0.41 = 0.897 EI.
    assert quiet.assessment.detectable_change < 2.18755 * PRIOR < noisy.assessment.detectable_change
    # 2.66 EI cannot resolve the 1.4 EI lasting redness needs: the verdict says so.
    assert noisy.assessment.reasons == ("too_noisy",) and quiet.assessment.status == "as_expected"


def alternating(offset: float, outlier: dict[float, float] | None = None):
    """The default course on DAYS with +offset EI on every other photo from 24 h, and outliers."""
    outlier = outlier or {}
    pts = [point(h, redness=normal_day(h)["redness"] + (offset if h >= 24 and i % 2 == 0 else 0.0)
                 + outlier.get(h, 0.0)) for i, h in enumerate(DAYS)]
    return series_from_points(pts, TREATMENT)


def test_an_outlier_photo_does_not_blow_up_the_estimate():
    clean = alternating(0.6)
    odd = alternating(0.6, outlier={144: 6.0})
    # The outlier moves two of the 14 differences (and the fit a little): the median barely moves.
    assert clean.noise.redness_observed_sd == pytest.approx(0.6290, abs=5e-4)
    assert odd.noise.redness_observed_sd == pytest.approx(clean.noise.redness_observed_sd, rel=0.01)
    # A root mean square of the same differences would have more than doubled.
    r = [0.0] + [0.6 if i % 2 == 0 else 0.0 for i in range(2, len(DAYS))]
    r[DAYS.index(144) - 1] += 6.0
    d = [(b - a) / math.sqrt(2) for a, b in zip(r, r[1:])]
    assert math.sqrt(sum(x * x for x in d) / len(d)) > 2 * clean.noise.redness_observed_sd


def test_with_few_photos_the_prior_dominates():
    # Two photos: the prior as it is, however far apart they are.
    s = series_from_points([point(-24), point(24, redness=normal_day(24)["redness"] + 3.0)], TREATMENT)
    assert s.noise.source == "prior" and s.noise.redness_observed_sd is None
    assert [sp.point.redness_sd for sp in s.points] == [PRIOR, PRIOR]
    # Four reliable photos (fewer than MIN_SERIES_PHOTOS): still the prior.
    wild = {24: {"redness": 14.0}, 48: {"redness": 6.0}}
    four = series_from_points([point(h, **wild.get(h, {})) for h in (-24, 3, 24, 48)], TREATMENT)
    assert four.noise.source == "prior" and {sp.point.redness_sd for sp in four.points} == {PRIOR}
    # The pooling rule itself: one difference (nu = 0.25) three times the prior moves it 21 %:
    # s^2 = (4 x 0.1681 + 0.25 x 1.5129) / 4.25 = 0.247206, s = 0.49720.
    assert noise.pooled_sd(PRIOR, 3 * PRIOR, 1) == pytest.approx(0.49720, abs=5e-6)
    assert noise.pooled_sd(PRIOR, None, 0) == PRIOR and noise.pooled_sd(PRIOR, 5.0, 0) == PRIOR


def test_a_quiet_series_never_goes_below_the_measurement_floor():
    hours = [-24, 3] + [24.0 * d for d in range(1, 101)]  # 101 differences, nu = 25.25
    s = series_from_points([point(h) for h in hours], TREATMENT)
    # 0.41 x sqrt(4 / 29) = 0.152 would be below the pipeline's own noise, 0.17 EI.
    assert PRIOR * math.sqrt(4 / (4 + 0.25 * 100)) < 0.17
    assert s.noise.redness_sd == 0.17
    assert all(sp.point.redness_sd == pytest.approx(0.17) for sp in s.points)
    # With the colour card the floor is 0.05 EI.
    pts = [point(h, sd=0.13, scale="chart") for h in hours]
    assert series_from_points(pts, TREATMENT).noise.redness_sd == 0.05


def test_each_photo_keeps_its_own_part_in_quadrature():
    hours = [-24, 3, 24, 48, 72, 96, 120, 144, 168]
    pts = [point(h) for h in hours]
    pts[5] = point(96, sd=PRIOR * 1.25, codes=("head_tilted",))  # reliable, its own part
    pts[7] = point(144, sd=PRIOR * 5, codes=("light_not_corrected",))  # not reliable for redness
    s = series_from_points(pts, TREATMENT)
    # Eight reliable photos, exact: 7 differences, 6 used; s = 0.41 x sqrt(4 / 5.5) = 0.34964.
    sd = PRIOR * math.sqrt(4 / 5.5)
    assert s.noise.redness_sd == pytest.approx(sd)
    by_h = {sp.point.hours: sp.point.redness_sd for sp in s.points}
    assert by_h[96] == pytest.approx(math.sqrt(sd ** 2 + (0.5125 ** 2 - PRIOR ** 2)))  # 0.45776
    assert by_h[144] == pytest.approx(math.sqrt(sd ** 2 + (2.05 ** 2 - PRIOR ** 2)))  # 2.03078
    assert by_h[120] == pytest.approx(sd)
    # A photo steadier than the typical one keeps its lead, down to the floor.
    assert noise.combined_sd(0.3, 0.2, 0.41, 0.17) == pytest.approx(0.17)
    assert noise.combined_sd(0.5, 0.3, 0.41, 0.17) == pytest.approx(math.sqrt(0.25 + 0.09 - 0.1681))


def test_photos_on_another_colour_scale_keep_their_prior_sd():
    hours = [-24, 3, 24, 48, 72, 96, 120, 144, 168]
    pts = [point(h) for h in hours[:6]] + [point(h, sd=0.13, scale="chart") for h in hours[6:]]
    s = series_from_points(pts, TREATMENT)
    assert s.noise.photos == 6 and s.noise.source == "series"
    assert [sp.point.redness_sd for sp in s.points if sp.point.scale == "chart"] == [0.13] * 3
    assert all(sp.point.redness_sd < PRIOR for sp in s.points if sp.point.scale == "card_free")


def test_robust_difference_sd_by_hand_and_empty():
    sd, n = noise.robust_difference_sd([-24, 3, 24, 48], [0.0, 2.0, 2.0, 3.0], skip_across_treatment=True)
    # Differences 0 and 1 (/ sqrt(2)); median 0.35355; x 1.4826 = 0.52418.
    assert n == 2 and sd == pytest.approx(MAD * 0.5 / math.sqrt(2))
    assert noise.robust_difference_sd([5.0], [1.0]) == (None, 0)
    assert noise.series_noise([], lambda h: 0.0) is None


def test_an_anomaly_does_not_widen_the_noise_that_would_hide_it():
    hours = [24, 48, 72, 96, 120, 144]
    # A slow misfit (redness fading slower than the protocol): the first differences are all
    # 1/sqrt(2), sd 1.4826 x 0.7071 = 1.0484; the second differences are 0.
    trend = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert noise.robust_difference_sd(hours, trend)[0] == pytest.approx(1.0484, abs=1e-4)
    assert noise.series_spread(hours, trend) == (0.0, 4)
    # A step (a rebound): the first differences' median is 0; the second see |3| / sqrt(6) twice
    # of four, median 0.6124, sd 0.9079.
    step = [0.0, 0.0, 0.0, 3.0, 3.0, 3.0]
    assert noise.robust_difference_sd(hours, step, order=2)[0] == pytest.approx(0.9079, abs=1e-4)
    assert noise.series_spread(hours, step) == (0.0, 5)
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        noise.robust_difference_sd(hours, step, order=3)
