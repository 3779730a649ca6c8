"""ColorChecker Classic (24 patches): reference data, detection, measurement and a 3x3 correction.

A chart in the frame turns an unknown light into a known one: its 24 patches are measured in
the photo, and a 3x3 matrix that maps the measured linear RGB onto the reference linear RGB is
fitted and then applied to the face.  The residual CIEDE2000 over the patches says how well it
worked and is reported with every photo (SCIENCE.md).

Domain and range
----------------
=======================  ===========================================  ===========================
quantity                 representation                               range / unit
=======================  ===========================================  ===========================
photo                    uint8 or uint16 encoded sRGB, (H, W, 3), RGB  full code range
measured patches         float64 linear sRGB, (24, 3), X-Rite order   [0, 1]; NaN = unusable
reference                float64 linear sRGB / CIELAB D65, (24, 3)    linear [0, 1]; L* [0, 100]
correction matrix        float64, (3, 3)                              ``corrected = linear @ M.T``
residual                 CIEDE2000, float                             0 = perfect
=======================  ===========================================  ===========================

Search (:func:`find_chart`)
---------------------------
1. *Squares*: a grey copy with long side ``long_side`` (fast bilinear + 2x2 box downscale), one
   adaptive threshold (mean over ~2 patch sides, offset 5 grey levels: the frame and gaps are
   darker than their surroundings) and one contour pass; holes that are square (min-area
   rectangle sides within 0.6, filled >= 80 %) and at least as large as the patches of a chart
   1/6 of the short side wide are kept.
2. *Groups*: squares of similar size (within 1.6x) whose centres are at most 1.9 sides apart,
   connected; groups of 6-36 squares are chart candidates.  A photo without one costs only
   steps 1-2 (3-7 ms at 1000 px, see tests).
3. *Lattice*: pitch = median nearest-neighbour distance, angle = circular mean of 4x the
   neighbour directions; every square gets integer lattice coordinates, refined by refitting a
   homography (perspective) twice.
4. *Placement*: every rotation (0/90/180/270 degrees; a chart is never seen mirrored) and offset
   of the 6 x 4 grid that covers the squares found is tried; the 24 patch centres are sampled
   (3 x 3 px) on the small copy and the placement with the lowest weighted-least-squares
   residual is kept (this also identifies the orientation; none below 15 CIEDE2000 -> no chart).
5. *Measurement* at full resolution: each patch is averaged over the inner 0.5 x 0.5 pitch
   (the patch is about 0.86 pitch), in linear light (decoded through the sRGB look-up table,
   never averaged encoded), after dropping the 10 % darkest and 10 % brightest pixels; a patch
   with more than 2 % clipped pixels is NaN.

``cv2.mcc.CCheckerDetector`` was tried first and dropped: on this machine it costs 35 ms per
1000 px photo with its defaults (it upscales any image whose short side is below
``minImageSize`` = 1000 px and runs 9 threshold passes), still 13 ms with one pass, and on
candidate crops its result flipped between correct, a degenerate chart and no chart when the
crop size changed by one pixel (7 % misses or wrong charts in 60 random scenes, against 0 of
140 for the lattice search above).

Fit (:func:`fit_correction`)
----------------------------
The photo is corrected in linear RGB, so the matrix is fitted in linear RGB.  Methods
(:data:`FIT_METHODS`): ``"least_squares"``, ``"weighted_least_squares"`` (rows weighted by
1/Y^2 of the reference, i.e. relative errors, which is closer to how CIELAB treats dark and
light patches), ``"white_preserving"`` (the weighted fit with the exact constraint that the
measured neutral series maps onto the reference neutral; Finlayson & Drew 1997) and
``"opencv_ccm"`` (``cv2.ccm.ColorCorrectionModel``: CCM_LINEAR, identity linearisation, linear
sRGB reference, DISTANCE_CIE2000, i.e. CIEDE2000 minimised directly by a downhill simplex).

Measured on simulated charts (tests/test_colour_chart.py, 40 per case; each case adds one
imperfection; mean CIEDE2000 over the usable patches / worst skin-patch erythema-index error):

=========================================  ===========  ===========  ===========  ===========
case                                       LS           WLS          WP           CCM
=========================================  ===========  ===========  ===========  ===========
diagonal cast x exposure                   0.40 / 0.71  0.40 / 0.73  0.42 / 0.74  0.38 / 0.66
+ illuminant change (Bradford, A..D75)     0.50 / 0.78  0.51 / 0.79  0.52 / 0.76  0.48 / 0.70
+ camera cross-talk                        0.48 / 1.17  0.47 / 1.14  0.49 / 1.20  0.45 / 1.15
+ tone-curve error (gamma 0.9-1.1)         1.42 / 1.27  1.28 / 0.94  1.37 / 1.66  1.28 / 1.19
fit time, ms                               0.05         0.05         0.05         7
=========================================  ===========  ===========  ===========  ===========

``"weighted_least_squares"`` is the default: it ties the direct CIEDE2000 optimiser where the
camera is not linear (the realistic case) and is within 0.03 of it elsewhere (far below a
just-noticeable difference), has the smallest skin erythema-index error when it matters, and
is closed form, deterministic and 100x faster.  The white-preserving constraint removes casts
on the neutral axis exactly but pays for it on the chromatic patches.

References
----------
.. [1] X-Rite, "ColorChecker Classic: new colour specifications (after November 2014)",
   L*a*b* D50 2-degree values, X-Rite Inc. (2014/2016); tabulated e.g. by colour-science,
   ``CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]``.
.. [2] CIE 15:2004, Colorimetry, 3rd ed. (CIELAB; D50 and D65 white points).
.. [3] K. M. Lam, "Metamerism and colour constancy", PhD thesis, University of Bradford (1985)
   (the Bradford cone matrix); B. Lindbloom, "Chromatic adaptation",
   http://www.brucelindbloom.com/Eqn_ChromAdapt.html (the D50 -> D65 Bradford matrix).
.. [4] G. D. Finlayson and M. S. Drew, "Constrained least-squares regression in color
   spaces", J. Electron. Imaging 6:484-493 (1997) (white-point preserving fit).
.. [5] P. W. Holland and R. E. Welsch, "Robust regression using iteratively reweighted
   least-squares", Commun. Stat. Theory Methods 6:813-827 (1977).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import cv2
import numpy as np

from .spaces import delta_e00, encoded_to_linear, lab_to_linear, linear_to_lab, linear_to_srgb

__all__ = [
    "CHART_DETECTORS",
    "ReferenceChart",
    "COLORCHECKER24",
    "COLORCHECKER24_NAMES",
    "COLORCHECKER24_LAB_D50",
    "NEUTRAL_PATCHES",
    "D50_WHITE_XYZ",
    "D65_WHITE_XYZ",
    "bradford_matrix",
    "reference_linear_srgb",
    "reference_lab_d65",
    "render_chart",
    "ChartFit",
    "FIT_METHODS",
    "DEFAULT_FIT_METHOD",
    "validate_fit_method",
    "find_chart",
    "fit_correction",
    "detect_and_fit",
    "apply_matrix",
]


# ------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------


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


D50_WHITE_XYZ = (0.96422, 1.0, 0.82521)
"""CIE D50, 2 degrees, Y = 1 (CIE 15:2004; the white Lindbloom uses for his Bradford matrices)."""

D65_WHITE_XYZ = (0.95047, 1.0, 1.08883)
"""CIE D65, 2 degrees, Y = 1: the white :mod:`analyzer.colour.spaces` (scikit-image) uses."""

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

# Bradford cone-response matrix (Lam 1985), rows = cone responses from XYZ.
_BRADFORD = np.array(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ]
)


def bradford_matrix(src_white: np.ndarray, dst_white: np.ndarray) -> np.ndarray:
    """The von Kries transform in the Bradford cone space, XYZ under ``src_white`` to ``dst_white``.

    Parameters
    ----------
    src_white, dst_white : array_like of float, shape (3,)
        XYZ of the two whites (Y = 1).

    Returns
    -------
    ndarray of float64, shape (3, 3): ``xyz_dst = M @ xyz_src``.

    Examples
    --------
    D50 to D65, as tabulated by Lindbloom (first row 0.9555766, -0.0230393, 0.0631636):

    >>> np.round(bradford_matrix(D50_WHITE_XYZ, D65_WHITE_XYZ)[0], 7)
    array([ 0.9555766, -0.0230393,  0.0631636])
    """
    cone_src = _BRADFORD @ np.asarray(src_white, float)
    cone_dst = _BRADFORD @ np.asarray(dst_white, float)
    return np.linalg.inv(_BRADFORD) @ np.diag(cone_dst / cone_src) @ _BRADFORD


def _lab_to_xyz(lab: np.ndarray, white) -> np.ndarray:
    """CIELAB to XYZ (CIE 15:2004), relative to ``white`` (Y = 1)."""
    lab = np.asarray(lab, float)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    eps = 6.0 / 29.0
    t = np.where(f > eps, f**3, 3 * eps**2 * (f - 4.0 / 29.0))
    return t * np.asarray(white, float)


def _xyz_to_lab(xyz: np.ndarray, white) -> np.ndarray:
    """XYZ to CIELAB (CIE 15:2004), relative to ``white`` (Y = 1)."""
    t = np.asarray(xyz, float) / np.asarray(white, float)
    eps = 6.0 / 29.0
    f = np.where(t > eps**3, np.cbrt(t), t / (3 * eps**2) + 4.0 / 29.0)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


@lru_cache(maxsize=1)
def reference_lab_d65() -> np.ndarray:
    """The 24 reference colours as CIELAB under D65 (what corrected patches are compared with).

    L*a*b* D50 -> XYZ D50 -> Bradford D50 to D65 -> XYZ D65 -> L*a*b* D65 (CIE 15:2004 white
    points; Lindbloom's Bradford matrix).

    Returns
    -------
    ndarray of float64, shape (24, 3), read-only.

    Examples
    --------
    >>> np.round(reference_lab_d65()[21], 2)   # neutral 5 stays neutral
    array([50.76, -0.14,  0.14])
    """
    xyz50 = _lab_to_xyz(COLORCHECKER24_LAB_D50, D50_WHITE_XYZ)
    xyz65 = xyz50 @ bradford_matrix(D50_WHITE_XYZ, D65_WHITE_XYZ).T
    return _frozen(_xyz_to_lab(xyz65, D65_WHITE_XYZ))


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


# ------------------------------------------------------------------------------------------
# A synthetic chart
# ------------------------------------------------------------------------------------------


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
    codes = np.round(linear_to_srgb(np.clip(reference_linear_srgb(), 0, 1)) * 255).astype(np.uint8)
    pitch = patch_px + gap_px
    for i, code in enumerate(codes):
        r, c = divmod(i, cols)
        img[
            gap_px + r * pitch : gap_px + r * pitch + patch_px,
            gap_px + c * pitch : gap_px + c * pitch + patch_px,
        ] = code
    return img


# ------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ChartFit:
    """A fitted chart correction.

    Attributes
    ----------
    matrix : ndarray of float64, shape (3, 3)
        ``corrected_linear = linear @ matrix.T`` (see :func:`apply_matrix`).
    residual_delta_e00 : float
        Mean CIEDE2000 between corrected and reference patches, over the patches used.
    max_delta_e00 : float
        Largest CIEDE2000 over the patches used.
    corners : ndarray of float32, shape (4, 2)
        (x, y) corners of the 6 x 4 patch grid in the coordinates of the image searched, in the
        order: next to dark skin, bluish green, black 2, white 9.5.  NaN when not known.
    used : ndarray of bool, shape (24,)
        Patches the fit used (not clipped, not NaN, not rejected as outliers).
    method : str
        The fit method (a key of :data:`FIT_METHODS`).
    """

    matrix: np.ndarray
    residual_delta_e00: float
    max_delta_e00: float
    corners: np.ndarray
    used: np.ndarray
    method: str = "weighted_least_squares"


_LUMA = np.array([0.212671, 0.715160, 0.072169])  # Y of linear sRGB (IEC 61966-2-1)


def _relative_weights(ref: np.ndarray) -> np.ndarray:
    """1 / Y^2 of the reference (Y floored at 0.01): residuals become relative errors."""
    return 1.0 / np.maximum(ref @ _LUMA, 0.01) ** 2


def _fit_least_squares(meas: np.ndarray, ref: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    w = np.ones(len(meas)) if weights is None else weights
    sw = np.sqrt(w)[:, None]
    x, *_ = np.linalg.lstsq(meas * sw, ref * sw, rcond=None)
    return x.T


def _fit_plain(meas: np.ndarray, ref: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Ordinary least squares in linear RGB: minimise sum ||M m_i - r_i||^2."""
    return _fit_least_squares(meas, ref)


def _fit_weighted(meas: np.ndarray, ref: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Least squares of relative errors: rows weighted by 1 / Y_ref^2."""
    return _fit_least_squares(meas, ref, _relative_weights(ref))


def _fit_white_preserving(meas: np.ndarray, ref: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """Weighted least squares subject to M w_meas = w_ref, w = the sum of the neutral patches.

    Each row m_k minimises ||A m_k - b_k||^2 subject to w_meas . m_k = w_ref[k]; the Lagrange
    solution is m_k = m0_k + G w (w_ref[k] - w . m0_k) / (w . G w), with G = (A^T A)^-1 and m0_k
    the unconstrained solution (Finlayson & Drew 1997).
    """
    if not neutral.any():
        return _fit_weighted(meas, ref, neutral)
    sw = np.sqrt(_relative_weights(ref))[:, None]
    a, b = meas * sw, ref * sw
    g = np.linalg.inv(a.T @ a)
    m0 = (g @ a.T @ b).T  # rows = unconstrained solution
    w_meas, w_ref = meas[neutral].sum(0), ref[neutral].sum(0)
    gw = g @ w_meas
    return m0 + np.outer(w_ref - m0 @ w_meas, gw) / (w_meas @ gw)


def _fit_opencv_ccm(meas: np.ndarray, ref: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """``cv2.ccm.ColorCorrectionModel``: 3x3, identity linearisation, CIEDE2000 minimised."""
    model = cv2.ccm.ColorCorrectionModel(
        np.clip(meas, 0, 1).reshape(-1, 1, 3).astype(np.float64),
        np.asarray(ref, np.float64).reshape(-1, 1, 3),
        cv2.ccm.COLOR_SPACE_SRGBL,
    )
    model.setColorSpace(cv2.ccm.COLOR_SPACE_SRGB)
    model.setCcmType(cv2.ccm.CCM_LINEAR)
    model.setLinearization(cv2.ccm.LINEARIZATION_IDENTITY)
    model.setDistance(cv2.ccm.DISTANCE_CIE2000)
    model.setSaturatedThreshold(0.0, 1.0)
    model.setRGB(True)
    model.compute()
    return np.asarray(model.getColorCorrectionMatrix(), np.float64).T  # OpenCV: dst = src @ ccm


FitMethod = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

FIT_METHODS: Mapping[str, FitMethod] = MappingProxyType(
    {
        "least_squares": _fit_plain,
        "weighted_least_squares": _fit_weighted,
        "white_preserving": _fit_white_preserving,
        "opencv_ccm": _fit_opencv_ccm,
    }
)
"""Chart fit methods: name -> ``f(measured (n,3), reference (n,3), neutral (n,) bool) -> (3,3)``,
all in linear sRGB, the matrix applied as ``corrected = measured @ M.T``."""

DEFAULT_FIT_METHOD = "weighted_least_squares"
"""Chosen by measured residual CIEDE2000 and skin erythema-index error (module docstring)."""


def validate_fit_method(name: str) -> str:
    """Return ``name`` if it is a key of :data:`FIT_METHODS`, else raise ValueError listing them."""
    if name not in FIT_METHODS:
        raise ValueError(f"unknown chart fit method {name!r}; valid: {', '.join(FIT_METHODS)}")
    return name


CLIP_LEVEL = 0.98
"""Linear value at or above which a measured patch channel counts as clipped (not fitted)."""

MIN_PATCHES = 8
"""Fewest usable patches a fit accepts (9 unknowns; 8 patches give 24 equations)."""


def _tukey_weights(
    meas: np.ndarray, ref: np.ndarray, c: float = 4.685, iterations: int = 10
) -> np.ndarray | None:
    """Tukey biweights of the patches after IRLS of the relative-error least-squares fit.

    Residual of a patch: the norm of (M m - r) / Y_ref; scale: 1.4826 x the median residual,
    floored at 0.005 (0.5 % relative error, the noise of a good measurement).  None if the
    fit is degenerate.
    """
    base = _relative_weights(ref)
    w = np.ones(len(meas))
    for _ in range(iterations):
        if (w > 0).sum() < MIN_PATCHES:
            return None
        m = _fit_least_squares(meas, ref, base * w)
        e = np.linalg.norm(meas @ m.T - ref, axis=1) * np.sqrt(base)
        scale = max(1.4826 * float(np.median(e)), 0.005)
        u = e / (c * scale)
        w_new = np.where(u < 1, (1 - u**2) ** 2, 0.0)
        if np.allclose(w_new, w, atol=1e-4):
            break
        w = w_new
    return w


def _correct_lab(meas: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return linear_to_lab(np.clip(meas @ matrix.T, 0.0, None))


def fit_correction(
    measured_linear: np.ndarray,
    corners: np.ndarray | None = None,
    *,
    method: str = DEFAULT_FIT_METHOD,
    outlier_delta_e00: float = 6.0,
) -> ChartFit:
    """Fit the 3x3 linear-RGB matrix that maps the measured patches onto the reference.

    Patches that are NaN, clipped (any channel >= :data:`CLIP_LEVEL`) or black-crushed (any
    channel <= 0) are not used.  Outliers (a patch hidden by a finger, a glare spot) are found
    by iteratively reweighted weighted least squares with Tukey's biweight on the patches'
    relative RGB errors (scale: 1.4826 x their median, c = 4.685; Holland & Welsch 1977); a
    patch with zero weight whose CIEDE2000 under that robust fit also exceeds
    ``outlier_delta_e00`` is dropped.  The chosen ``method`` is then fitted to the rest.

    Parameters
    ----------
    measured_linear : array_like of float, shape (24, 3)
        Linear sRGB patch means in X-Rite order, [0, 1]; NaN rows for unusable patches.
    corners : array_like of float, shape (4, 2), optional
        Chart corners to store in the result (see :class:`ChartFit`); NaN if omitted.
    method : str
        A key of :data:`FIT_METHODS`.
    outlier_delta_e00 : float
        CIEDE2000 above which a patch may be rejected as an outlier.

    Returns
    -------
    ChartFit

    Raises
    ------
    ValueError
        Wrong shape, unknown method, or fewer than :data:`MIN_PATCHES` usable patches.

    Examples
    --------
    A pure cast (linear gains 1.25, 1, 0.7) is undone by the inverse gains:

    >>> meas = reference_linear_srgb().clip(0, 1) * [1.25, 1.0, 0.7] * 0.8
    >>> fit = fit_correction(meas)
    >>> np.round(np.diag(fit.matrix) * [1.25, 1.0, 0.7] * 0.8, 2)
    array([1., 1., 1.])
    """
    validate_fit_method(method)
    meas = np.asarray(measured_linear, dtype=np.float64)
    if meas.shape != (24, 3):
        raise ValueError(f"measured_linear must have shape (24, 3), got {meas.shape}")
    ref = reference_linear_srgb()
    ref_lab = reference_lab_d65()
    usable = np.isfinite(meas).all(1)
    usable[usable] = (meas[usable].max(1) < CLIP_LEVEL) & (meas[usable].min(1) > 0.0)
    if usable.sum() < MIN_PATCHES:
        raise ValueError(f"only {int(usable.sum())} usable chart patches; at least {MIN_PATCHES} needed")
    neutral = np.zeros(24, bool)
    neutral[NEUTRAL_PATCHES] = True
    # The black patch is noisy and often crushed: keep it out of the neutral constraint.
    neutral[23] = False
    fit_fn = FIT_METHODS[method]

    used = usable.copy()
    if np.isfinite(outlier_delta_e00):
        idx = np.nonzero(usable)[0]
        weights = _tukey_weights(meas[idx], ref[idx])
        if weights is not None:
            robust = _fit_least_squares(meas[idx], ref[idx], _relative_weights(ref[idx]) * weights)
            de_robust = delta_e00(_correct_lab(meas[idx], robust), ref_lab[idx])
            outlier = (weights == 0) & (de_robust > outlier_delta_e00)
            if usable.sum() - outlier.sum() >= MIN_PATCHES:
                used[idx[outlier]] = False
    matrix = fit_fn(meas[used], ref[used], neutral[used])
    de = delta_e00(_correct_lab(meas[used], matrix), ref_lab[used])

    if corners is None:
        corners_arr = np.full((4, 2), np.nan, np.float32)
    else:
        corners_arr = np.asarray(corners, np.float32).reshape(4, 2)
    used.setflags(write=False)
    return ChartFit(
        matrix=np.asarray(matrix, np.float64),
        residual_delta_e00=float(np.mean(de)),
        max_delta_e00=float(np.max(de)),
        corners=corners_arr,
        used=used,
        method=method,
    )


def apply_matrix(linear: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a chart correction: ``linear @ matrix.T``, negative results clipped to 0.

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3)
        Linear sRGB.
    matrix : ndarray, shape (3, 3)

    Returns
    -------
    ndarray of float32, shape (..., 3).  Values above 1 are kept (a brightened highlight is not
    an error of the correction).

    Examples
    --------
    >>> apply_matrix(np.array([[0.5, 0.2, 0.1]]), np.diag([2.0, 1.0, -1.0])).tolist()
    [[1.0, 0.20000000298023224, 0.0]]
    """
    lin = np.asarray(linear, dtype=np.float32)
    if lin.shape[-1] != 3:
        raise ValueError(f"linear must have shape (..., 3), got {lin.shape}")
    m = np.asarray(matrix, dtype=np.float32)
    if m.shape != (3, 3):
        raise ValueError(f"matrix must have shape (3, 3), got {m.shape}")
    out = lin @ m.T
    np.maximum(out, 0.0, out=out)
    return out


# ------------------------------------------------------------------------------------------
# Search and measurement
# ------------------------------------------------------------------------------------------

MIN_CHART_FRACTION = 1.0 / 6.0
"""Smallest chart searched for: its width as a fraction of the image's SHORT side (selfies are
usually portrait, so 'image width' is taken as the short side)."""

_PITCH_PER_CHART_WIDTH = 6.5
"""A ColorChecker Classic is about 6.5 patch pitches wide including its frame (279 mm / 43 mm)."""

_PATCH_PER_PITCH = 0.86
"""Patch side / patch pitch of the Classic chart (and of :func:`render_chart`'s defaults)."""

_MIN_GROUP = 6
"""Square contours that must form one lattice for a region to count as a chart candidate."""

_MAX_GROUP = 36
"""Larger groups of squares (tiled walls, windows) are not a 24-patch chart and are skipped."""

_SCREEN_C = 5.0
"""Offset of the adaptive threshold, grey levels (cv2.mcc uses 7 on a denoised image)."""

_SAMPLE_HALF = 0.25
"""Half side of the averaged square, in patch pitches: the inner 0.5 x 0.5 pitch of a patch
whose side is 0.86 pitch leaves 0.18 pitch of margin on every side for misregistration."""

_TRIM = 0.10
"""Fraction of pixels dropped at each end (ordered by R+G+B) before a patch is averaged."""

_MAX_CLIPPED = 0.02
"""Fraction of clipped pixels above which a patch is NaN."""

_MAX_SCREEN_RESIDUAL = 15.0
"""Mean CIEDE2000 of the best placement on the search copy above which there is no chart."""

_GRID_CORNERS = np.array([[-0.5, -0.5], [5.5, -0.5], [5.5, 3.5], [-0.5, 3.5]], np.float32)
"""Corners of the patch grid in grid units (patch centres at integer (column, row))."""


def _check_photo(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"rgb must be a uint8 or uint16 ndarray, got {getattr(rgb, 'dtype', type(rgb))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")


def _downscale(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """A copy with the long side at most ``long_side``, same dtype.

    Bilinear (to twice the target and then an exact 2 x 2 box average when shrinking more than
    2x): about 1 ms from 12 MP, where a direct ``INTER_AREA`` resize costs 3-13 ms.  Aliasing
    does not matter here: the copy is only searched, the patches are measured at full resolution.
    """
    h, w = rgb.shape[:2]
    f = long_side / max(h, w)
    if f >= 1.0:
        return rgb
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if f >= 0.5:
        return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    big = cv2.resize(rgb, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


def _squares(gray: np.ndarray, min_side: float, max_side: float) -> np.ndarray:
    """Dark-framed bright squares: (n, 3) float64 rows (x, y, side) in ``gray`` px.

    Pixels darker than their neighbourhood mean (block ~ 2 patch sides) are the chart's frame;
    its holes are the patches (one threshold and one contour pass, as one scale of cv2.mcc).
    Contours are first screened by their bounding boxes in one vectorised step (a textured
    photo has thousands), then by area, squareness and fill of their minimum-area rectangle.
    """
    block = max(3, int(2 * min_side) | 1)
    bw = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, _SCREEN_C)
    contours, _ = cv2.findContours(bw, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 3))
    lens = np.fromiter(map(len, contours), int, len(contours))
    cand = np.nonzero(lens >= 4)[0]
    if len(cand) == 0:
        return np.zeros((0, 3))
    pts = np.concatenate([contours[i] for i in cand]).reshape(-1, 2)
    starts = np.concatenate([[0], np.cumsum(lens[cand])[:-1]])
    bw_ = np.maximum.reduceat(pts[:, 0], starts) - np.minimum.reduceat(pts[:, 0], starts) + 1
    bh_ = np.maximum.reduceat(pts[:, 1], starts) - np.minimum.reduceat(pts[:, 1], starts) + 1
    lo, hi = np.minimum(bw_, bh_), np.maximum(bw_, bh_)
    cand = cand[(lo >= 0.7 * min_side) & (hi <= 1.5 * max_side) & (lo >= 0.5 * hi)]
    out = []
    amin, amax = 0.5 * min_side**2, max_side**2
    for i in cand:
        c = contours[i]
        area = cv2.contourArea(c)
        if not amin <= area <= amax:
            continue
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(c)
        if min(rw, rh) < 0.6 * max(rw, rh) or area < 0.8 * rw * rh:
            continue
        out.append((cx, cy, np.sqrt(area)))
    return np.asarray(out, np.float64).reshape(-1, 3)


def _groups(sq: np.ndarray) -> list[np.ndarray]:
    """Indices of squares of similar size about one pitch apart (connected), largest first."""
    if len(sq) < _MIN_GROUP:
        return []
    xy, side = sq[:, :2], sq[:, 2]
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    similar = np.abs(np.log(side[:, None] / side[None])) < np.log(1.6)
    linked = similar & (dist < 1.9 * np.maximum(side[:, None], side[None]))
    labels = -np.ones(len(sq), int)
    k = 0
    for i in range(len(sq)):
        if labels[i] >= 0:
            continue
        labels[i] = k
        stack = [i]
        while stack:
            nxt = np.nonzero(linked[stack.pop()] & (labels < 0))[0]
            labels[nxt] = k
            stack.extend(nxt.tolist())
        k += 1
    groups = [np.nonzero(labels == g)[0] for g in range(k)]
    return sorted((g for g in groups if _MIN_GROUP <= len(g) <= _MAX_GROUP), key=len, reverse=True)


def _fit_lattice(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer lattice coordinates of square centres and the lattice -> image homography.

    The pitch is the median nearest-neighbour distance, the lattice angle the circular mean of
    4x the neighbour directions; coordinates are rounded and refined by refitting a homography
    twice (perspective).  Returns (homography (3, 3), ab (m, 2) int of the m squares kept, i.e.
    within 0.3 pitch of a lattice point and alone on it) or None.
    """
    d = xy[:, None] - xy[None]
    dist = np.linalg.norm(d, axis=2)
    np.fill_diagonal(dist, np.inf)
    pitch = float(np.median(dist.min(1)))
    near = dist < 1.4 * pitch
    if not near.any():
        return None
    v = d[near]
    alpha = np.angle(np.mean(np.exp(4j * np.arctan2(v[:, 1], v[:, 0])))) / 4
    ca, sa = np.cos(alpha), np.sin(alpha)
    k0 = int(np.argmin(np.linalg.norm(xy - xy.mean(0), axis=1)))
    rel = xy - xy[k0]
    q = np.stack([rel @ (ca, sa), rel @ (-sa, ca)], 1) / pitch
    keep = np.ones(len(xy), bool)
    hom = None
    for _ in range(3):
        ab = np.round(q)
        resid = np.linalg.norm(q - ab, axis=1)
        keep = resid < 0.3
        # one square per lattice point: the one closest to it
        for key in {tuple(r) for r in ab[keep]}:
            same = np.nonzero(keep & (ab == key).all(1))[0]
            if len(same) > 1:
                keep[same[np.argsort(resid[same])[1:]]] = False
        if keep.sum() < _MIN_GROUP:
            return None
        hom, _ = cv2.findHomography(ab[keep].astype(np.float32), xy[keep].astype(np.float32), 0)
        if hom is None:
            return None
        q = cv2.perspectiveTransform(xy[None].astype(np.float64), np.linalg.inv(hom))[0]
    ab = np.round(q).astype(int)
    keep &= np.linalg.norm(q - ab, axis=1) < 0.3
    return hom, ab[keep]


def _placements(ab: np.ndarray) -> list[np.ndarray]:
    """Every way the 6 x 4 chart can cover the observed lattice points: grid -> lattice (3, 3).

    Rotations by 0, 90, 180 and 270 degrees (no mirror images: a chart is seen from the front),
    and every offset that keeps all observed points on the chart.
    """
    amin, bmin = ab.min(0)
    amax, bmax = ab.max(0)
    out = []
    # (column, row) -> (a, b) for the four rotations, before the offset
    rotations = (
        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),  # 0 deg
        np.array([[-1, 0, 5], [0, -1, 3], [0, 0, 1]]),  # 180 deg
        np.array([[0, -1, 3], [1, 0, 0], [0, 0, 1]]),  # 90 deg (chart portrait)
        np.array([[0, 1, 0], [-1, 0, 5], [0, 0, 1]]),  # 270 deg
    )
    for rot in rotations:
        wa, wb = (6, 4) if rot[0, 0] != 0 else (4, 6)
        for oa in range(amax - wa + 1, amin + 1):
            for ob in range(bmax - wb + 1, bmin + 1):
                shift = np.array([[1, 0, oa], [0, 1, ob], [0, 0, 1]])
                out.append((shift @ rot).astype(np.float64))
    return out


def _grid_centres() -> np.ndarray:
    """Patch centres in grid units, X-Rite order: (column, row), shape (24, 2)."""
    r, c = np.divmod(np.arange(24), COLORCHECKER24.columns)
    return np.stack([c, r], 1).astype(np.float32)


def _sample_small(img: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Linear 3 x 3 px means at the 24 patch centres of an encoded image (NaN outside it)."""
    h, w = img.shape[:2]
    c = np.round(cv2.perspectiveTransform(_grid_centres()[None].astype(np.float64), hom)[0]).astype(int)
    out = np.full((24, 3), np.nan)
    inside = (c[:, 0] >= 1) & (c[:, 1] >= 1) & (c[:, 0] < w - 1) & (c[:, 1] < h - 1)
    for i in np.nonzero(inside)[0]:
        x, y = c[i]
        out[i] = encoded_to_linear(img[y - 1 : y + 2, x - 1 : x + 2]).reshape(-1, 3).mean(0)
    return out


def _quick_residual(meas: np.ndarray) -> float:
    """Mean CIEDE2000 of a weighted least-squares fit (inf when too few patches)."""
    try:
        return fit_correction(
            meas, method="weighted_least_squares", outlier_delta_e00=np.inf
        ).residual_delta_e00
    except ValueError:
        return np.inf


def _measure(rgb: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Robust linear means of the 24 patches at full resolution (grid -> image homography).

    Each patch: the pixels inside the inner 0.5 x 0.5 pitch square, decoded to linear light,
    ordered by R+G+B, 10 % dropped at each end, averaged.  NaN when the square leaves the image
    or more than 2 % of its pixels are clipped (a channel at the top code, or all channels 0).
    """
    top = 255 if rgb.dtype == np.uint8 else 65535
    h, w = rgb.shape[:2]
    out = np.full((24, 3), np.nan)
    d = _SAMPLE_HALF
    square = np.array([[-d, -d], [d, -d], [d, d], [-d, d]], np.float32)
    for i, centre in enumerate(_grid_centres()):
        pts = cv2.perspectiveTransform((square + centre)[None], hom)[0]
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((pts - (x0, y0)) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        px = rgb[y0:y1, x0:x1][mask.astype(bool)]
        if len(px) < 4:
            continue
        clipped = ((px >= top).any(1) | (px == 0).all(1)).mean()
        if clipped > _MAX_CLIPPED:
            continue
        lin = encoded_to_linear(px).astype(np.float64)
        order = np.argsort(lin.sum(1))
        k = int(len(order) * _TRIM)
        out[i] = lin[order[k : len(order) - k]].mean(0)
    return out


def _locate(rgb: np.ndarray, long_side: int) -> np.ndarray | None:
    """Grid -> full-resolution homography of the chart, or None."""
    small = _downscale(rgb, long_side)
    gray = cv2.cvtColor(
        small if small.dtype == np.uint8 else (small >> 8).astype(np.uint8), cv2.COLOR_RGB2GRAY
    )
    short = min(gray.shape)
    min_pitch = short * MIN_CHART_FRACTION / _PITCH_PER_CHART_WIDTH
    sq = _squares(gray, 0.6 * _PATCH_PER_PITCH * min_pitch, max(gray.shape) / _PITCH_PER_CHART_WIDTH)
    groups = _groups(sq)
    if not groups:
        return None
    # small -> full pixel coordinates (pixel centres at integers, as cv2.resize aligns them)
    sx, sy = rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0]
    to_full = np.array([[sx, 0, 0.5 * (sx - 1)], [0, sy, 0.5 * (sy - 1)], [0, 0, 1.0]])
    for idx in groups[:2]:
        lattice = _fit_lattice(sq[idx, :2])
        if lattice is None:
            continue
        hom_lat, ab = lattice
        best, best_res = None, _MAX_SCREEN_RESIDUAL
        for place in _placements(ab):
            hom = hom_lat @ place
            res = _quick_residual(_sample_small(small, hom))
            if res < best_res:
                best, best_res = hom, res
        if best is not None:
            return to_full @ best
    return None


def _locate_mcc(rgb: np.ndarray, long_side: int) -> np.ndarray | None:
    """Grid-to-pixel homography from OpenCV's ``cv2.mcc`` detector (MCC24), or None.

    The patch centres ``cv2.mcc`` reports (``getColorCharts``: 4 corners per patch, X-Rite
    order) are mapped onto :func:`_grid_centres` by a homography, so measurement and fit are
    the same as for the lattice search."""
    f = min(1.0, long_side / max(rgb.shape[:2]))
    small = rgb if f >= 1.0 else cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    if small.dtype != np.uint8:
        small = (small >> 8).astype(np.uint8)
    det = cv2.mcc.CCheckerDetector.create()
    det.setColorChartType(cv2.mcc.MCC24)
    if not det.process(np.ascontiguousarray(small[..., ::-1]), 1):
        return None
    quads = np.asarray(det.getBestColorChecker().getColorCharts(), np.float64).reshape(-1, 4, 2)
    if quads.shape[0] != 24:
        return None
    hom, _ = cv2.findHomography(_grid_centres().astype(np.float64), quads.mean(axis=1) / f)
    return hom


CHART_DETECTORS: Mapping[str, Callable[[np.ndarray, int], np.ndarray | None]] = MappingProxyType(
    {"lattice": _locate, "mcc": _locate_mcc}
)
"""Chart detectors: name -> ``f(rgb, long_side) -> homography (3, 3) from grid units to rgb
pixels, or None``.  ``"lattice"`` (default) is the search described in the module docstring;
``"mcc"`` is OpenCV's ``cv2.mcc.CCheckerDetector`` (MCC24), kept selectable for comparison:
slower and less reliable here (see the module docstring)."""


def find_chart(
    rgb: np.ndarray, *, long_side: int = 1000, detector: str = "lattice"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Find a ColorChecker 24 in a photo and measure its patches.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB, RGB order, full resolution.
    long_side : int
        The search runs on a copy downscaled to this long side, px
        (``Settings.chart_search_long_side``); the patches are measured at full resolution.
    detector : str
        A key of :data:`CHART_DETECTORS` (``Settings.chart_detector``).

    Returns
    -------
    (measured, corners) or None
        measured : ndarray of float64, shape (24, 3): linear sRGB patch means in X-Rite order,
        averaged over the inner half of each patch pitch at full resolution; NaN rows where more
        than 2 % of the pixels are clipped.  corners : ndarray of float32, shape (4, 2): (x, y)
        of the patch grid's corners in ``rgb`` pixels, next to dark skin, bluish green, black 2,
        white 9.5.  None when no chart is found.

    Raises
    ------
    TypeError
        ``rgb`` is not a uint8 or uint16 ndarray.
    ValueError
        ``rgb`` is not (H, W, 3).
    """
    _check_photo(rgb)
    if detector not in CHART_DETECTORS:
        raise ValueError(f"unknown chart detector {detector!r}; valid: {', '.join(CHART_DETECTORS)}")
    hom = CHART_DETECTORS[detector](rgb, long_side)
    if hom is None:
        return None
    corners = cv2.perspectiveTransform(_GRID_CORNERS[None].astype(np.float64), hom)[0].astype(np.float32)
    return _measure(rgb, hom), corners


def detect_and_fit(
    rgb: np.ndarray,
    *,
    long_side: int = 1000,
    method: str = DEFAULT_FIT_METHOD,
    max_residual: float = 10.0,
    detector: str = "lattice",
) -> ChartFit | None:
    """Find a chart and fit the correction; None when there is no usable chart.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB photo, RGB order.
    long_side : int
        Search scale, see :func:`find_chart`.
    method : str
        Fit method, a key of :data:`FIT_METHODS`.
    max_residual : float
        Mean CIEDE2000 above which the find is rejected (not a chart, or not usable).

    Returns
    -------
    ChartFit or None
    """
    validate_fit_method(method)
    found = find_chart(rgb, long_side=long_side, detector=detector)
    if found is None:
        return None
    measured, corners = found
    try:
        fit = fit_correction(measured, corners, method=method)
    except ValueError:
        return None
    if not fit.residual_delta_e00 <= max_residual:
        return None
    return fit
