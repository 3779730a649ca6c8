"""Measurements on colour-normalised linear sRGB: the six numbers of :class:`analyzer.result.Metrics`.

===========  =========================================  ===========================================
Metrics      function                                   unit
===========  =========================================  ===========================================
redness      :func:`redness.erythema_index_of_mean`     100 log10(mean R / mean G), unitless
hemoglobin   :func:`chromophores.chromophores_of_mean`  Tsumura c_h, natural-log optical density
melanin      :func:`chromophores.chromophores_of_mean`  Tsumura c_m, natural-log optical density
a_star       :func:`redness.a_star_of_mean`             CIELAB a* (D65) of the mean colour
texture      :func:`texture.roughness`                  percent, at ``Settings.texture_px_per_mm``
flaking      :func:`texture.flaking_density`            specks per cm^2 of skin
===========  =========================================  ===========================================

Per-pixel maps for overlays: :func:`redness.erythema_index` and :func:`chromophores.separate`.
:func:`chromophores.compose` and :func:`chromophores.add_chromophores` build synthetic skin with
known pigment changes.  Inputs: linear sRGB float (H, W, 3) in [0, 1], masks bool (H, W);
texture and flaking take :func:`texture.log_luminance` of a crop resampled to the fixed scale.
Formulas, ranges, confounders and sources: ``docs/metrics.md``.
"""

from .chromophores import (
    SIGMA_HEMOGLOBIN,
    SIGMA_MELANIN,
    add_chromophores,
    chromophores_of_mean,
    compose,
    optical_density,
    separate,
)
from .redness import EPS, a_star_of_mean, erythema_index, erythema_index_of_mean
from .texture import flaking_density, log_luminance, roughness

__all__ = [
    "EPS",
    "erythema_index",
    "erythema_index_of_mean",
    "a_star_of_mean",
    "SIGMA_MELANIN",
    "SIGMA_HEMOGLOBIN",
    "optical_density",
    "separate",
    "compose",
    "add_chromophores",
    "chromophores_of_mean",
    "log_luminance",
    "roughness",
    "flaking_density",
]
