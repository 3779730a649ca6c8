"""ColorChecker Classic correction: the 3x3 linear-RGB matrix fitted onto the reference patches.

A chart in the frame turns an unknown light into a known one: its 24 patches are measured in
the photo (:mod:`analyzer.colour.chart_detect`), and a 3x3 matrix that maps the measured linear
RGB onto the reference linear RGB (:mod:`analyzer.colour.datasets`) is fitted and then applied
to the face.  The residual CIEDE2000 over the patches says how well it worked and is reported
with every photo (docs/science.md, Chart correction).

Domain and range
----------------
=======================  ===========================================  ===========================
quantity                 representation                               range / unit
=======================  ===========================================  ===========================
measured patches         float64 linear sRGB, (24, 3), X-Rite order   [0, 1]; NaN = unusable
reference                float64 linear sRGB / CIELAB D65, (24, 3)    linear [0, 1]; L* [0, 100]
correction matrix        float64, (3, 3)                              ``corrected = linear @ M.T``
residual                 CIEDE2000, float                             0 = perfect
=======================  ===========================================  ===========================

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
+ illuminant change (Bradford, A..D75)     0.51 / 0.79  0.52 / 0.81  0.53 / 0.76  0.49 / 0.71
+ camera cross-talk                        0.48 / 1.18  0.47 / 1.14  0.49 / 1.20  0.45 / 1.15
+ tone-curve error (gamma 0.9-1.1)         0.91 / 1.45  0.80 / 0.96  0.94 / 1.71  0.74 / 1.13
fit time, ms                               0.05         0.05         0.05         7
=========================================  ===========  ===========  ===========  ===========

(Since crushed channels are dropped, :data:`DARK_LEVEL`; before, the tone-curve row read
1.42 / 1.27, 1.28 / 0.94, 1.37 / 1.66, 1.28 / 1.19 and the others within 0.02.)

``"weighted_least_squares"`` is the default: it is within 0.06 of the direct CIEDE2000
optimiser everywhere (far below a just-noticeable difference), has the smallest skin
erythema-index error where the camera is not linear (the realistic case), and is closed form,
deterministic and 100x faster.  The white-preserving constraint removes casts
on the neutral axis exactly but pays for it on the chromatic patches.

References
----------
.. [1] G. D. Finlayson and M. S. Drew, "Constrained least-squares regression in color
   spaces", J. Electron. Imaging 6:484-493 (1997) (white-point preserving fit).
.. [2] P. W. Holland and R. E. Welsch, "Robust regression using iteratively reweighted
   least-squares", Commun. Stat. Theory Methods 6:813-827 (1977).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np

from .datasets import NEUTRAL_PATCHES, reference_lab_d65, reference_linear_srgb
from .spaces import LUMINANCE_WEIGHTS, delta_e00, linear_to_lab

__all__ = [
    "ChartFit",
    "FIT_METHODS",
    "DEFAULT_FIT_METHOD",
    "CLIP_LEVEL",
    "DARK_LEVEL",
    "MIN_PATCHES",
    "validate_fit_method",
    "fit_correction",
    "apply_matrix",
]


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


def _relative_weights(ref: np.ndarray) -> np.ndarray:
    """1 / Y^2 of the reference (Y floored at 0.01): residuals become relative errors."""
    return 1.0 / np.maximum(ref @ LUMINANCE_WEIGHTS, 0.01) ** 2


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

DARK_LEVEL = 0.002
"""Linear value at or below which a measured patch channel counts as crushed (not fitted):
8-bit sRGB code 6.6, where one code step is 14 % of the value.  A patch outside the gamut of
the photo is recorded with the channel at the black floor: the ColorChecker's cyan has
reference R = -0.044 in linear sRGB and reads R = 0.0002-0.0007 in an sRGB JPEG (noise above
zero).  Fitted, it pulled the red row down and every face's redness with it, by 0.30
erythema-index units on the lossless renders of bench/chart_spread.py (docs/metrics.md)."""

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
    channel <= :data:`DARK_LEVEL`: an out-of-gamut patch, e.g. cyan in an sRGB photo) are not
    used.  Outliers (a patch hidden by a finger, a glare spot) are found
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
    usable[usable] = (meas[usable].max(1) < CLIP_LEVEL) & (meas[usable].min(1) > DARK_LEVEL)
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
