"""The uncertainty of each photo's numbers, from the photo and from the series, and the smallest
real change between two photos.

**The photo's prior** (:func:`photo_noise`).  Redness: the measured lighting noise of the pipeline
(``Settings.redness_noise_sd_chart_ei`` 0.13 EI with a ColorChecker,
``redness_noise_sd_card_free_ei`` 0.41 EI card-free; docs/validation.md), inflated by a factor for
each quality problem of the photo and for a poor chart fit.  Melanin and flaking carry their own
base noise (below, our choices until measured) inflated the same way.

**The series' own noise** (:func:`series_noise`, used by :func:`analyzer.recovery.series_from_points`
before the baseline, the band, the flags and the verdict).  The prior was measured on one face; a
patient's own photos show how steady *their* light, camera and skin are.  On the photos reliable
for redness and pigment (:attr:`Point.colour_ok`), in time order:

1. residuals from what the course explains: redness less the expected course's shape
   ``B + E0 * 2^(-t / t_half)`` (0 before the treatment) with ``B`` and ``E0`` fitted to these
   photos by least squares and the protocol's half-life (:func:`course_residuals`); melanin,
   expected flat, as it is.
2. consecutive differences ``d_i = (r_{i+1} - r_i) / sqrt(2)``: each has the sd of one photo, the
   level cancels, and a slow departure (lasting redness, darkening) moves them far less than it
   moves the residuals.  For redness the difference across the treatment is left out: the
   fitted peak rests on that very jump.
3. a robust sd: ``s_obs = 1.4826 * median |d_i|`` (the MAD about zero; one odd photo moves two
   differences and not the median; Rousseeuw & Croux 1993, docs/metrics.md), the smaller of the
   estimates from first and from second differences (:func:`series_spread`: a slow misfit
   inflates the first, a step the second, so an anomaly cannot widen the noise that hides it), with
   ``nu = 0.25 n_d`` effective degrees of freedom (the MAD's 37 % efficiency, divided by 1.5 for
   the overlap of consecutive differences).
4. shrunk towards the prior ``s_p`` (the median prior sd of those photos) as a pooled variance:
   ``s^2 = (nu0 s_p^2 + nu s_obs^2) / (nu0 + nu)`` with ``nu0 = 4`` (:data:`SERIES_PRIOR_DOF`,
   our choice: the prior comes from another face, so it weighs about as much as a two-week daily
   series of 14-15 differences; with one or two photos the prior is nearly all).  Below
   :data:`MIN_SERIES_PHOTOS` reliable photos the prior is used as it is.
5. each photo's sd, in quadrature: ``sd_i^2 = s^2 + (p_i^2 - s_p^2)``: the series replaces the
   typical photo's variance, and each photo keeps its own part (its quality and chart-fit
   inflation, ``p_i`` its prior sd), never below the floor of the pipeline's own measurement
   noise (same light, only pose and sensor noise changing: 0.17 EI card-free, 0.05 EI with a
   chart; docs/validation.md) and never below the observed spread of its repeats (photos within
   ``REPEAT_WINDOW_H`` of each other).

A series noisier than the prior thus widens the band and raises the detectable change; a quiet
one narrows them, down to the floor.  Photos on another colour scale than the course keep their
prior sd.

Between two photos with sds ``s1`` and ``s2`` the difference has sd ``sqrt(s1^2 + s2^2)``; a
change is called real when it exceeds ``Z * sqrt(s1^2 + s2^2)`` with ``Z = 2`` (about 95 %).  For
two photos of equal sd this is ``2 * sqrt(2) * sd``, the "smallest real change" reported with a
series.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from ..result import PhotoResult, round_or_none
from ..settings import DEFAULT, Settings
from .points import Point

__all__ = [
    "FLAKING_SD_PER_CM2",
    "MELANIN_FLOOR_OD",
    "MELANIN_SD_CARD_FREE_OD",
    "MELANIN_SD_CHART_OD",
    "MIN_SERIES_PHOTOS",
    "QUALITY_INFLATION",
    "REDNESS_FLOOR_EI",
    "REPEAT_WINDOW_H",
    "ROBUST_DOF_PER_DIFFERENCE",
    "SERIES_PRIOR_DOF",
    "TEXTURE_SD_PERCENT",
    "PhotoNoise",
    "SeriesNoise",
    "Z",
    "combined_sd",
    "course_residuals",
    "difference_threshold",
    "photo_noise",
    "pooled_sd",
    "repeat_sd",
    "robust_difference_sd",
    "series_noise",
    "series_spread",
    "smallest_real_change",
    "with_series_noise",
]

Z = 2.0
"""Multiple of the difference's sd above which a change is called real (about 95 %)."""

REPEAT_WINDOW_H = 1.0
"""h.  Photos this close in time are repeats of one moment (our choice)."""

QUALITY_INFLATION: Mapping[str, float] = MappingProxyType({
    # Our choices: each factor multiplies the sd; the gate's codes (analyzer/face/quality.py).
    "light_not_corrected": 5.0,  # no correction spreads redness ~21 EI vs 1.5 (docs/validation.md)
    "overexposed": 2.0,
    "underexposed": 2.0,
    "blurred": 1.5,
    "head_turned": 1.5,
    "head_tilted": 1.25,
    "region_occluded": 1.25,
    "face_too_small": 2.0,
    "low_resolution": 2.0,
    "several_faces": 2.0,
    "mirrored": 1.0,  # flipped back exactly: measured as the photo the right way round
})
"""Factor on a photo's sd per quality issue code; unknown codes count 1.5."""

CHART_RESIDUAL_REFERENCE_DE00 = 0.6
"""CIEDE2000.  Mean chart residual of the validation's round trip (0.58-0.61); a photo's chart
sd is scaled by ``max(1, residual / 0.6)``."""

MELANIN_SD_CARD_FREE_OD = 0.02
MELANIN_SD_CHART_OD = 0.01
"""Optical density.  Our choice pending a validation figure: about the redness sd divided by the
16.7 EI/OD haemoglobin slope (0.41/16.7 = 0.025, 0.13/16.7 = 0.008)."""

FLAKING_SD_PER_CM2 = 0.4
"""flakes/cm^2.  Our choice: dry skin alone gives 0.5-1.2 false flakes (docs/validation.md);
the normal sample course varies 0.06-0.32 between clear days."""

TEXTURE_SD_PERCENT = 0.1
"""%.  Our choice (the synthetic baseline texture varies 2.51-2.58 between clear days)."""

REDNESS_FLOOR_EI: Mapping[str, float] = MappingProxyType({"card_free": 0.17, "chart": 0.05})
"""EI, by colour scale.  The pipeline's own measurement noise: sd of face redness over 10 photos
in the same light with only pose and sensor noise changing (docs/validation.md).  A quiet series
never brings a photo's sd below it."""

MELANIN_FLOOR_OD: Mapping[str, float] = MappingProxyType({"card_free": 0.008, "chart": 0.004})
"""OD, by colour scale.  Our choice pending a measurement: the melanin prior times the redness
floor's share of the redness prior (0.02 x 0.17/0.41 = 0.008, 0.01 x 0.05/0.13 = 0.004)."""

SERIES_PRIOR_DOF = 4.0
"""nu0, the degrees of freedom the prior counts for when it is pooled with the series' own
scatter (our choice).  The prior was measured on another face (docs/validation.md), and faces
differ (issue 11: 13 % against 140-149 % of the day-1 effect), so it weighs about as much as a
two-week daily series (14-15 differences, 3.5-3.75 effective degrees of freedom)."""

ROBUST_DOF_PER_DIFFERENCE = 0.25
"""Effective degrees of freedom per consecutive difference in the MAD estimate: the MAD's 37 %
efficiency at the normal distribution (Rousseeuw & Croux 1993, docs/metrics.md) divided by 1.5
for the overlap of consecutive differences (each photo is in two; lag-1 correlation -0.5)."""

MIN_SERIES_PHOTOS = 5
"""Fewer reliable photos than this and the prior is used as it is: the median of three or fewer
differences is too coarse, and would move the pooled sd by little anyway (nu <= 0.75 against
nu0 = 4)."""

_MAD_TO_SD = 1.4826
"""sd of a normal distribution per median absolute deviation (1 / 0.6745)."""


@dataclass(frozen=True)
class PhotoNoise:
    """Standard deviations of one photo's face values, in each metric's unit."""

    redness: float
    melanin: float
    flaking: float
    texture: float
    factor: float
    """The total inflation applied for quality and chart fit (1 = none)."""


def _inflation(result: PhotoResult) -> float:
    f = 1.0
    for issue in result.quality.issues:
        f *= QUALITY_INFLATION.get(issue.code, 1.5)
    cal = result.calibration
    if cal is not None and cal.chart_found and cal.residual_delta_e00 is not None:
        f *= max(1.0, cal.residual_delta_e00 / CHART_RESIDUAL_REFERENCE_DE00)
    return f


def photo_noise(result: PhotoResult, settings: Settings = DEFAULT) -> PhotoNoise:
    """The sds of a photo's face redness, melanin, flaking and texture.

    The chart figures apply when a ColorChecker was found, the card-free ones otherwise;
    each is multiplied by the quality and chart-fit inflation.
    """
    chart = result.calibration is not None and result.calibration.chart_found
    f = _inflation(result)
    red = settings.redness_noise_sd_chart_ei if chart else settings.redness_noise_sd_card_free_ei
    mel = MELANIN_SD_CHART_OD if chart else MELANIN_SD_CARD_FREE_OD
    return PhotoNoise(
        redness=red * f,
        melanin=mel * f,
        flaking=FLAKING_SD_PER_CM2 * f,
        texture=TEXTURE_SD_PERCENT * f,
        factor=f,
    )


def difference_threshold(sd1: float, sd2: float, z: float = Z) -> float:
    """The smallest difference between two values with sds ``sd1``, ``sd2`` called real:
    ``z * sqrt(sd1^2 + sd2^2)``."""
    return z * math.hypot(sd1, sd2)


def smallest_real_change(sd: float, z: float = Z) -> float:
    """``z * sqrt(2) * sd``: the smallest real change between two photos of equal sd
    (1.16 EI card-free, 0.37 EI with a chart, by the measured sds)."""
    return difference_threshold(sd, sd, z)


def repeat_sd(values: Sequence[float]) -> float | None:
    """Sample sd of repeat photos of one moment, or None with fewer than two."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if len(vals) < 2:
        return None
    return statistics.stdev(vals)


def robust_difference_sd(
    hours: Sequence[float], residuals: Sequence[float], skip_across_treatment: bool = False,
    *, order: int = 1,
) -> tuple[float | None, int]:
    """The robust sd of one photo from its consecutive differences.

    Parameters
    ----------
    hours : sequence of float
        h since treatment, in time order.
    residuals : sequence of float
        The values less what the course explains, in the same order (any unit).
    skip_across_treatment : bool
        Leave out the differences that span the treatment (when the peak was fitted on that
        jump).
    order : int
        1: ``d_i = (r_{i+1} - r_i) / sqrt(2)``; 2: ``d_i = (r_{i+1} - 2 r_i + r_{i-1}) / sqrt(6)``
        (both have the sd of one photo for independent noise; the second is blind to a trend
        that is locally straight).

    Returns
    -------
    (sd, n) : (float or None, int)
        ``1.4826 * median |d_i|`` (None without a difference) and the number of differences used.

    Examples
    --------
    >>> sd, n = robust_difference_sd([0, 24, 48, 72], [0.0, 1.0, 1.0, 3.0])
    >>> round(sd, 4), n  # 1.4826 x the middle of 0.7071, 0, 1.4142
    (1.0484, 3)
    >>> sd, n = robust_difference_sd([0, 24, 48, 72], [0.0, 1.0, 2.0, 3.0], order=2)
    >>> sd, n  # a straight trend has no second difference
    (0.0, 2)
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    pairs = list(zip(hours, residuals))
    scale = math.sqrt(2.0) if order == 1 else math.sqrt(6.0)
    d = []
    for i in range(len(pairs) - order):
        window = pairs[i : i + order + 1]
        if skip_across_treatment and window[0][0] < 0 <= window[-1][0]:
            continue
        v = window[1][1] - window[0][1] if order == 1 else window[2][1] - 2 * window[1][1] + window[0][1]
        d.append(abs(v) / scale)
    if not d:
        return None, 0
    return _MAD_TO_SD * float(statistics.median(d)), len(d)


def series_spread(
    hours: Sequence[float], residuals: Sequence[float], skip_across_treatment: bool = False
) -> tuple[float | None, int]:
    """The smaller of the first- and second-difference sds (:func:`robust_difference_sd`) and
    its number of differences.

    An anomaly inflates its own noise estimate, and so hides itself: a course that fades
    slower than the protocol leaves a slow misfit that the first differences see (the sample
    ``persistent_redness`` course: 0.74 EI) and the second do not (0.42 EI); a rebound is a
    step that the second differences see (``redness_rebound``: 1.31 EI against 0.35 EI).
    Pure noise gives both alike (the ``normal`` course: 0.216 and 0.221 EI).
    """
    first = robust_difference_sd(hours, residuals, skip_across_treatment, order=1)
    second = robust_difference_sd(hours, residuals, skip_across_treatment, order=2)
    found = [e for e in (first, second) if e[0] is not None]
    return min(found, key=lambda e: e[0]) if found else (None, 0)


def pooled_sd(prior_sd: float, observed_sd: float | None, n_differences: int,
              prior_dof: float = SERIES_PRIOR_DOF) -> float:
    """``sqrt((nu0 s_p^2 + nu s_obs^2) / (nu0 + nu))`` with ``nu = 0.25 n`` (the prior alone
    without an observation).

    Examples
    --------
    >>> round(pooled_sd(0.41, 1.23, 16), 4)  # nu = 4 = nu0: the mean of the two variances
    0.9168
    """
    nu = ROBUST_DOF_PER_DIFFERENCE * n_differences
    if observed_sd is None or nu <= 0:
        return prior_sd
    return math.sqrt((prior_dof * prior_sd ** 2 + nu * observed_sd ** 2) / (prior_dof + nu))


def combined_sd(series_sd: float, photo_prior_sd: float, typical_prior_sd: float, floor: float) -> float:
    """A photo's sd: ``sqrt(max(s^2 + p^2 - s_p^2, floor^2))``.  The series' sd ``s`` replaces the
    typical photo's prior ``s_p``; the photo keeps its own part ``p^2 - s_p^2`` (its quality and
    chart-fit inflation; negative for a photo steadier than the typical one)."""
    return math.sqrt(max(series_sd ** 2 + photo_prior_sd ** 2 - typical_prior_sd ** 2, floor ** 2))


@dataclass(frozen=True)
class SeriesNoise:
    """The noise of a series: the typical photo's sd from the series pooled with the prior.

    Attributes
    ----------
    redness_sd, melanin_sd : float
        ``s``, the pooled sd of a typical reliable photo (EI, OD), not below the floor.
    redness_prior_sd, melanin_prior_sd : float
        ``s_p``, the median prior sd of the reliable photos.
    redness_observed_sd, melanin_observed_sd : float or None
        ``s_obs``, the robust sd of the consecutive differences; None with too few photos.
    redness_differences, melanin_differences : int
        How many differences ``s_obs`` rests on.
    source : {"series", "prior"}
        "prior" when there were fewer than :data:`MIN_SERIES_PHOTOS` reliable photos (the sds are
        then the photos' own).
    photos : int
        The reliable photos used.
    scale : str
        Their colour scale (``card_free`` or ``chart``), which sets the floors.
    """

    redness_sd: float
    melanin_sd: float
    redness_prior_sd: float
    melanin_prior_sd: float
    redness_observed_sd: float | None
    melanin_observed_sd: float | None
    redness_differences: int
    melanin_differences: int
    source: str
    photos: int
    scale: str = "card_free"

    def to_dict(self) -> dict[str, Any]:
        """The ``noise`` object of ``series --json``."""
        return {
            "redness_sd": round_or_none(self.redness_sd), "melanin_sd": round_or_none(self.melanin_sd, 4),
            "redness_prior_sd": round_or_none(self.redness_prior_sd),
            "melanin_prior_sd": round_or_none(self.melanin_prior_sd, 4),
            "redness_observed_sd": round_or_none(self.redness_observed_sd),
            "melanin_observed_sd": round_or_none(self.melanin_observed_sd, 4),
            "source": self.source, "photos": self.photos,
        }


def course_residuals(hours: Sequence[float], values: Sequence[float], half_life_h: float) -> list[float]:
    """What the expected course's shape does not explain: ``y - B - E0 * g(t)`` with
    ``g = 2^(-t / t_half)`` after the treatment (0 before it) and ``B``, ``E0`` fitted by least
    squares (``E0 = 0`` when ``g`` does not vary).

    Examples
    --------
    >>> [round(r, 9) for r in course_residuals([-24, 0, 22], [8.0, 13.0, 10.5], 22.0)]
    [0.0, 0.0, 0.0]
    """
    g = [2.0 ** (-h / half_life_h) if h >= 0 else 0.0 for h in hours]
    gm, ym = statistics.fmean(g), statistics.fmean(values)
    sxx = sum((gi - gm) ** 2 for gi in g)
    e0 = sum((gi - gm) * (yi - ym) for gi, yi in zip(g, values)) / sxx if sxx > 1e-12 else 0.0
    return [yi - ym - e0 * (gi - gm) for gi, yi in zip(g, values)]


def series_noise(points: Sequence[Point], half_life_h: float) -> SeriesNoise | None:
    """The series' own noise (the module's steps 1-4) from its reliable photos.

    Parameters
    ----------
    points : sequence of Point
        The course, in time order, ``same_scale`` already set.
    half_life_h : float
        h.  The expected course's half-life (:func:`course_residuals`).

    Returns
    -------
    SeriesNoise or None
        None without a reliable photo.
    """
    good = [p for p in points if p.colour_ok]
    if not good:
        return None
    scales = [p.scale for p in good]
    scale = max(sorted(set(scales)), key=scales.count)  # the course's (a tie: "card_free")
    sp_red = float(statistics.median(p.redness_sd for p in good))
    sp_mel = float(statistics.median(p.melanin_sd for p in good))
    if len(good) < MIN_SERIES_PHOTOS:
        return SeriesNoise(sp_red, sp_mel, sp_red, sp_mel, None, None, 0, 0, "prior", len(good), scale)
    hours = [p.hours for p in good]
    obs_red, n_red = series_spread(
        hours, course_residuals(hours, [p.redness for p in good], half_life_h), skip_across_treatment=True)
    obs_mel, n_mel = series_spread(hours, [p.melanin for p in good])
    return SeriesNoise(
        redness_sd=max(pooled_sd(sp_red, obs_red, n_red), REDNESS_FLOOR_EI.get(scale, 0.0)),
        melanin_sd=max(pooled_sd(sp_mel, obs_mel, n_mel), MELANIN_FLOOR_OD.get(scale, 0.0)),
        redness_prior_sd=sp_red, melanin_prior_sd=sp_mel,
        redness_observed_sd=obs_red, melanin_observed_sd=obs_mel,
        redness_differences=n_red, melanin_differences=n_mel,
        source="series", photos=len(good), scale=scale,
    )


def _repeat_spreads(points: Sequence[Point]) -> list[tuple[float, float]]:
    """(redness, melanin) sample sd of each photo's repeats (photos within ``REPEAT_WINDOW_H`` of
    their neighbour, those that passed the quality gate), 0 without."""
    groups: list[list[int]] = []
    for i, p in enumerate(points):
        if groups and p.hours - points[groups[-1][-1]].hours <= REPEAT_WINDOW_H:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = [(0.0, 0.0)] * len(points)
    for g in groups:
        good = [points[i] for i in g if points[i].quality_ok]
        spread = (repeat_sd([p.redness for p in good]) or 0.0, repeat_sd([p.melanin for p in good]) or 0.0)
        for i in g:
            out[i] = spread
    return out


def with_series_noise(points: Sequence[Point], noise: SeriesNoise | None) -> list[Point]:
    """The points (in time order) with their redness and melanin sds from the series (step 5),
    each never below the spread of its repeats.  With a "prior" noise (or None) only the repeat
    floor applies; photos on another colour scale keep their prior sd."""
    out = []
    for p, (rep_red, rep_mel) in zip(points, _repeat_spreads(points)):
        red, mel = p.redness_sd, p.melanin_sd
        if noise is not None and noise.source == "series" and p.same_scale:
            red = combined_sd(noise.redness_sd, red, noise.redness_prior_sd,
                              REDNESS_FLOOR_EI.get(noise.scale, 0.0))
            mel = combined_sd(noise.melanin_sd, mel, noise.melanin_prior_sd,
                              MELANIN_FLOOR_OD.get(noise.scale, 0.0))
        red, mel = max(red, rep_red), max(mel, rep_mel)
        same = (red, mel) == (p.redness_sd, p.melanin_sd)
        out.append(p if same else replace(p, redness_sd=red, melanin_sd=mel))
    return out
