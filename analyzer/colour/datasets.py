"""Reference colour charts: published patch values, as immutable tables.

The only home of a chart's numbers.  :mod:`analyzer.colour.chart` fits a correction onto them,
:mod:`analyzer.colour.chart_detect` finds a chart in a photo, and the sample generator and the
tests draw one with :func:`render_chart`.

:data:`COLORCHECKER24` is the X-Rite ColorChecker Classic (24 patches) as X-Rite publishes it
for charts made after November 2014: CIELAB L*, a*, b* (unitless; L* in [0, 100]) under the
D50 white, 2-degree observer (:data:`~analyzer.colour.spaces.D50_WHITE_XYZ`), patches row by
row from the top-left (dark skin) to the bottom-right (black 2).  The table is reproduced in
docs/science.md (ColorChecker values).

Domain and range
----------------
==========================  ==========================================  =====================
quantity                    representation                              range / unit
==========================  ==========================================  =====================
published values            float64, (24, 3), read-only, X-Rite order   CIELAB D50, L* 0-100
:func:`reference_lab_d65`   float64, (24, 3), read-only                 CIELAB D65, L* 0-100
:func:`reference_linear_srgb`  float64, (24, 3), read-only              linear sRGB, about [0, 1]
:func:`render_chart`        uint8, (H, W, 3), RGB                       encoded sRGB
==========================  ==========================================  =====================

References
----------
.. [1] X-Rite, "ColorChecker Classic: new colour specifications (after November 2014)",
   L*a*b* D50 2-degree values, X-Rite Inc. (2014/2016); tabulated e.g. by colour-science,
   ``CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]``.
.. [2] CIE 15:2004, Colorimetry, 3rd ed. (CIELAB; the D50 and D65 whites); the Bradford
   adaptation D50 -> D65 of :mod:`analyzer.colour.spaces` (Lam 1985).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .spaces import (
    D50_WHITE_XYZ,
    D65_WHITE_XYZ,
    bradford_matrix,
    lab_to_linear,
    lab_to_xyz,
    linear_to_srgb8,
    xyz_to_lab,
)

__all__ = [
    "ReferenceChart",
    "COLORCHECKER24",
    "COLORCHECKER24_NAMES",
    "COLORCHECKER24_LAB_D50",
    "NEUTRAL_PATCHES",
    "reference_lab_d65",
    "reference_linear_srgb",
    "render_chart",
]


def _frozen(a, dtype=np.float64) -> np.ndarray:
    a = np.array(a, dtype=dtype)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class ReferenceChart:
    """A colour chart's published reference values, as an immutable table.

    Attributes
    ----------
    name : str
    patch_names : tuple of str, length N
        In the publisher's order (row by row from the top-left patch).
    lab : ndarray of float64, shape (N, 3), read-only
        CIELAB L*, a*, b* (unitless; L* in [0, 100]) under ``illuminant`` / ``observer``.
    illuminant, observer : str
    white_xyz : tuple of 3 float
        XYZ of the reference white (Y = 1) the L*a*b* values are relative to.
    rows, columns : int
        Patch layout.
    units : str
        What the numbers are.
    source : str
        Where the values come from.
    """

    name: str
    patch_names: tuple[str, ...]
    lab: np.ndarray
    illuminant: str
    observer: str
    white_xyz: tuple[float, float, float]
    rows: int
    columns: int
    units: str
    source: str


COLORCHECKER24 = ReferenceChart(
    name="ColorChecker Classic 24, after November 2014",
    patch_names=(
        "dark skin",
        "light skin",
        "blue sky",
        "foliage",
        "blue flower",
        "bluish green",
        "orange",
        "purplish blue",
        "moderate red",
        "purple",
        "yellow green",
        "orange yellow",
        "blue",
        "green",
        "red",
        "yellow",
        "magenta",
        "cyan",
        "white 9.5 (.05 D)",
        "neutral 8 (.23 D)",
        "neutral 6.5 (.44 D)",
        "neutral 5 (.70 D)",
        "neutral 3.5 (1.05 D)",
        "black 2 (1.5 D)",
    ),
    lab=_frozen(
        [
            [37.54, 14.37, 14.92],
            [64.66, 19.27, 17.50],
            [49.32, -3.82, -22.54],
            [43.46, -12.74, 22.72],
            [54.94, 9.61, -24.79],
            [70.48, -32.26, -0.37],
            [62.73, 35.83, 56.50],
            [39.43, 10.75, -45.17],
            [50.57, 48.64, 16.67],
            [30.10, 22.54, -20.87],
            [71.77, -24.13, 58.19],
            [71.51, 18.24, 67.37],
            [28.37, 15.42, -49.80],
            [54.38, -39.72, 32.27],
            [42.43, 51.05, 28.62],
            [81.80, 2.67, 80.41],
            [50.63, 51.28, -14.12],
            [49.57, -29.71, -28.32],
            [95.19, -1.03, 2.93],
            [81.29, -0.57, 0.44],
            [66.89, -0.75, -0.06],
            [50.76, -0.13, 0.14],
            [35.63, -0.46, -0.48],
            [20.64, 0.07, -0.46],
        ]
    ),
    illuminant="D50",
    observer="2",
    white_xyz=D50_WHITE_XYZ,
    rows=4,
    columns=6,
    units="CIELAB L* (0-100), a*, b*; unitless; 2-degree observer, D50 white (Y = 1)",
    source="X-Rite (2014/2016), ColorChecker Classic L*a*b* D50 2-deg, charts made after November 2014",
)
"""The X-Rite ColorChecker Classic, as published for charts made after November 2014."""

COLORCHECKER24_NAMES: tuple[str, ...] = COLORCHECKER24.patch_names
"""The 24 patch names in X-Rite order (dark skin first, black 2 last)."""

COLORCHECKER24_LAB_D50: np.ndarray = COLORCHECKER24.lab
"""(24, 3) float64, read-only: CIELAB D50 2-degree values of :data:`COLORCHECKER24`."""

NEUTRAL_PATCHES = slice(18, 24)
"""The neutral series, white 9.5 to black 2 (white 9.5 itself is slightly yellow: b* = 2.93)."""


@lru_cache(maxsize=1)
def reference_lab_d65() -> np.ndarray:
    """The 24 reference colours as CIELAB under D65 (what corrected patches are compared with).

    L*a*b* D50 -> XYZ D50 -> Bradford D50 to D65 -> XYZ D65 -> L*a*b* D65 (CIE 15:2004 white
    points; the Bradford matrix of :func:`~analyzer.colour.spaces.bradford_matrix`).

    Returns
    -------
    ndarray of float64, shape (24, 3), read-only.

    Examples
    --------
    >>> np.round(reference_lab_d65()[21], 2)   # neutral 5 stays neutral
    array([50.76, -0.14,  0.14])
    """
    xyz50 = lab_to_xyz(COLORCHECKER24_LAB_D50, D50_WHITE_XYZ)
    xyz65 = xyz50 @ bradford_matrix(D50_WHITE_XYZ, D65_WHITE_XYZ).T
    return _frozen(xyz_to_lab(xyz65, D65_WHITE_XYZ))


@lru_cache(maxsize=1)
def reference_linear_srgb() -> np.ndarray:
    """The 24 reference colours as linear sRGB (D65), Bradford-adapted from the D50 values.

    Returns
    -------
    ndarray of float64, shape (24, 3), read-only.  Not clipped: cyan lies just outside the sRGB
    gamut (R = -0.044).

    Examples
    --------
    >>> np.round(reference_linear_srgb()[18], 3)   # white 9.5
    array([0.88 , 0.885, 0.834])
    """
    return _frozen(lab_to_linear(reference_lab_d65()))


def render_chart(patch_px: int = 60, gap_px: int = 10) -> np.ndarray:
    """The chart as an 8-bit sRGB image: 4 x 6 square patches on a black frame.

    Parameters
    ----------
    patch_px : int
        Side of one patch, px (> 0).
    gap_px : int
        Black gap between patches and around them, px (>= 1).  The real chart's gap is about
        0.17 of a patch, as the defaults.

    Returns
    -------
    ndarray of uint8, shape (4 * patch_px + 5 * gap_px, 6 * patch_px + 7 * gap_px, 3), RGB.
    Patch colours are :func:`reference_linear_srgb` clipped to [0, 1] and encoded (cyan is the
    only patch that needs clipping).

    Examples
    --------
    >>> img = render_chart(60, 10)
    >>> img.shape, img[10 + 30, 10 + 30].tolist()     # the dark-skin patch
    ((290, 430, 3), [116, 79, 65])
    """
    if patch_px < 1 or gap_px < 1:
        raise ValueError(f"patch_px and gap_px must be >= 1, got {patch_px} and {gap_px}")
    rows, cols = COLORCHECKER24.rows, COLORCHECKER24.columns
    img = np.zeros(
        (rows * patch_px + (rows + 1) * gap_px, cols * patch_px + (cols + 1) * gap_px, 3), np.uint8
    )
    codes = linear_to_srgb8(reference_linear_srgb())
    pitch = patch_px + gap_px
    for i, code in enumerate(codes):
        r, c = divmod(i, cols)
        img[
            gap_px + r * pitch : gap_px + r * pitch + patch_px,
            gap_px + c * pitch : gap_px + c * pitch + patch_px,
        ] = code
    return img
