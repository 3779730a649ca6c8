"""The uncertainty of each photo's numbers, and the smallest real change between two photos.

Redness: the measured lighting noise of the pipeline (``Settings.redness_noise_sd_chart_ei``
0.13 EI with a ColorChecker, ``redness_noise_sd_card_free_ei`` 0.41 EI card-free;
docs/validation.md), inflated by a factor for each quality problem of the photo and for a poor
chart fit.  Melanin and flaking carry their own base noise (below, our choices until measured)
inflated the same way.  Repeat photos (taken within ``REPEAT_WINDOW_H`` of each other) give an
observed spread, and a point's sd is never below it.

Between two photos with sds ``s1`` and ``s2`` the difference has sd ``sqrt(s1^2 + s2^2)``; a
change is called real when it exceeds ``Z * sqrt(s1^2 + s2^2)`` with ``Z = 2`` (about 95 %).  For two photos of equal sd this is ``2 * sqrt(2) * sd``, the "smallest real
change" reported with a series.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ..result import PhotoResult
from ..settings import DEFAULT, Settings

__all__ = [
    "FLAKING_SD_PER_CM2",
    "MELANIN_SD_CARD_FREE_OD",
    "MELANIN_SD_CHART_OD",
    "QUALITY_INFLATION",
    "REPEAT_WINDOW_H",
    "TEXTURE_SD_PERCENT",
    "PhotoNoise",
    "Z",
    "difference_threshold",
    "photo_noise",
    "repeat_sd",
    "smallest_real_change",
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
