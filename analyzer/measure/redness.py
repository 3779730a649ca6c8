"""Redness of skin from linear RGB: the erythema index and CIELAB a*.

Domain and range
----------------
=======================  ==============================  =====================================
quantity                 representation                  typical value on skin
=======================  ==============================  =====================================
input colour             linear sRGB, float, (..., 3)    [0, 1], colour-normalised
mask                     bool, (H, W)                    True on the region's skin
erythema index (EI)      float, unitless                 about 5-35
a* (CIELAB, D65)         float, unitless                 about 5-25
=======================  ==============================  =====================================

The erythema index used here is the camera analogue of the reflectance indices of Dawson et al.
(1980) and Diffey et al. (1984): the instruments compare the skin's reflectance in a red band
(little haemoglobin absorption) with a green band (strong haemoglobin absorption); here the
bands are the linear R and G channels of a colour-normalised photo.  Being a log-ratio, EI is
exactly invariant to exposure and to shading that scales R and G alike.

This module also holds the input checks shared by :mod:`analyzer.measure.chromophores` and
:mod:`analyzer.measure.texture` (private helpers whose names start with ``_``).

References
----------
.. [1] J. B. Dawson, D. J. Barker, D. J. Ellis, E. Grassam, J. A. Cotterill, G. W. Fisher and
   J. W. Feather, "A theoretical and experimental study of light absorption and scattering by
   in vivo skin", Phys. Med. Biol. 25:695-709 (1980).
.. [2] B. L. Diffey, R. J. Oliver and P. M. Farr, "A portable instrument for quantifying
   erythema induced by ultraviolet radiation", Br. J. Dermatol. 111:663-672 (1984).
.. [3] CIE 15:2004, Colorimetry (CIELAB).
"""

from __future__ import annotations

import cv2
import numpy as np

from analyzer.colour.spaces import linear_to_lab

__all__ = ["EPS", "erythema_index", "erythema_index_of_mean", "erythema_shift", "a_star_of_mean"]

EPS = 1e-6
"""Smallest linear value taken at face value before a logarithm or a ratio (linear sRGB units).

Values below it (zero, or slightly negative after a colour correction) are replaced by it.  It
lies below the smallest non-zero code of 16-bit sRGB in linear light (1/65535/12.92 = 1.2e-6),
so it never alters a real measured value; it only keeps ``log(0)`` and ``x/0`` finite."""

_EI_SCALE = 100.0


# --------------------------------------------------------------------------------------------
# Shared input checks (used by chromophores.py and texture.py too)
# --------------------------------------------------------------------------------------------


def _as_float_array(x, name: str) -> np.ndarray:
    """``x`` as a float ndarray (float16 widened to float32); ValueError for any other dtype."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        hint = ""
        if a.dtype.kind in "ui":
            hint = (
                "; this looks like encoded sRGB, decode it first with "
                "analyzer.colour.spaces.encoded_to_linear"
            )
        raise ValueError(f"{name} must be a floating-point array, got dtype {a.dtype}{hint}")
    if a.dtype == np.float16:
        a = a.astype(np.float32)
    return a


def _as_rgb(linear, name: str = "linear", *, image: bool = False) -> np.ndarray:
    """Check a linear-RGB array: floating, last axis of length 3 (and 3-D if ``image``)."""
    a = _as_float_array(linear, name)
    if image:
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"{name} must have shape (H, W, 3), got shape {a.shape}")
    elif a.ndim < 1 or a.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got shape {a.shape}")
    return a


def _as_mask(mask, shape: tuple[int, ...], name: str = "mask", *, allow_empty: bool = False):
    """Check a boolean mask of exactly ``shape`` that selects at least one pixel."""
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise ValueError(f"{name} must be a bool array, got dtype {m.dtype}")
    if m.shape != tuple(shape):
        raise ValueError(f"{name} has shape {m.shape}, expected {tuple(shape)} (the image's H, W)")
    if not allow_empty and not m.any():
        raise ValueError(f"{name} is empty: it selects no pixel, so there is nothing to measure")
    return m


def _positive(value, name: str) -> float:
    """``value`` as a finite float > 0; ValueError otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _crop_to_mask(a: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Views of ``a`` and ``m`` cut to the bounding box of ``m`` (which must not be empty)."""
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return a[sl], m[sl]


def _masked_channel_mean(a: np.ndarray, m: np.ndarray, name: str) -> np.ndarray:
    """Mean over ``m`` of each channel of ``a`` ((H, W) or (H, W, C <= 4)), accumulated in
    float64.  ValueError when a pixel inside the mask is NaN or infinite."""
    a, m = _crop_to_mask(a, m)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    channels = 1 if a.ndim == 2 else a.shape[2]
    mean = np.array(cv2.mean(np.ascontiguousarray(a), np.ascontiguousarray(m).view(np.uint8)))
    mean = mean[:channels]
    if not np.all(np.isfinite(mean)):
        raise ValueError(f"{name} has NaN or infinite values inside the mask")
    return mean


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def erythema_index(linear: np.ndarray) -> np.ndarray:
    r"""Per-pixel erythema index, EI = 100 log10(R / G), of linear sRGB.

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3)
        Linear sRGB (R, G, B), colour-normalised, nominally in [0, 1].  float32 is fastest.

    Returns
    -------
    ndarray of float32, shape (...)
        The erythema index of every pixel, unitless.  About 5-35 on skin; the full range is
        +/-600 (set by :data:`EPS`).  NaN where an input channel is NaN.

    Raises
    ------
    ValueError
        If ``linear`` is not floating point (e.g. encoded uint8) or its last axis is not 3.

    Notes
    -----
    .. math:: EI = 100 \log_{10} \frac{\max(R, \epsilon)}{\max(G, \epsilon)},
              \quad \epsilon = 10^{-6}

    The guard :data:`EPS` keeps black or slightly negative (over-corrected) pixels finite.
    A common factor k on R and G (exposure, shading) cancels.  Raising the haemoglobin optical
    density by d (Tsumura model, natural log) raises EI by
    100 d (sigma_h[G] - sigma_h[R]) / ln 10 = 16.7 d.  NaN is propagated, so a map may carry
    NaN for "no value" (see :class:`analyzer.result.PhotoMaps`).  For a region's value use
    :func:`erythema_index_of_mean`, not the mean of this map.

    References
    ----------
    .. [1] Dawson et al., Phys. Med. Biol. 25:695 (1980).
    .. [2] Diffey, Oliver & Farr, Br. J. Dermatol. 111:663 (1984).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.redness import erythema_index
    >>> px = np.array([[0.5, 0.25, 0.2], [0.3, 0.3, 0.3]], dtype=np.float32)
    >>> np.round(erythema_index(px), 3)
    array([30.103,  0.   ], dtype=float32)
    """
    a = _as_rgb(linear)
    r = np.maximum(a[..., 0], EPS)
    g = np.maximum(a[..., 1], EPS)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf/NaN pixels propagate quietly
        out = np.log10(r / g)
    out *= _EI_SCALE
    return out.astype(np.float32, copy=False)


def erythema_index_of_mean(linear: np.ndarray, mask: np.ndarray) -> float:
    r"""Erythema index of a region: 100 log10(mean R / mean G) over the mask.

    Parameters
    ----------
    linear : ndarray of float, shape (H, W, 3)
        Linear sRGB, colour-normalised, nominally in [0, 1].  Values outside the mask are not
        read (they may be NaN).
    mask : ndarray of bool, shape (H, W)
        True on the pixels to average; at least one.

    Returns
    -------
    float
        Unitless; about 5-35 on skin (range +/-600 set by :data:`EPS`).

    Raises
    ------
    ValueError
        Wrong dtype or shape of either argument, an empty mask, or a NaN/infinite value inside
        the mask.

    Notes
    -----
    .. math:: EI = 100 \log_{10} \frac{\max(\bar R, \epsilon)}{\max(\bar G, \epsilon)},
              \quad \bar R = \frac{1}{|M|} \sum_{p \in M} R_p

    The ratio of means (not the mean of per-pixel ratios) is robust to noise in dark pixels,
    where R/G is unstable.  It is exactly invariant to exposure (a factor k on the region
    cancels) and to shading that scales R and G alike: on skin of uniform colour any shading
    pattern cancels; on mottled skin, shading that varies across the region weights the
    brighter pixels more.  Means are accumulated in float64.

    Confounders: overestimated in pigmented skin (melanin also absorbs more in green than in
    red); higher in the afternoon and after meals; shifted by a coloured light that the colour
    normalisation did not remove.

    References
    ----------
    .. [1] Dawson et al., Phys. Med. Biol. 25:695 (1980).
    .. [2] Diffey, Oliver & Farr, Br. J. Dermatol. 111:663 (1984).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.redness import erythema_index_of_mean
    >>> img = np.zeros((2, 2, 3), np.float32)
    >>> img[0, 0] = (0.7, 0.2, 0.1)   # mean R 0.5, mean G 0.25 over the top row
    >>> img[0, 1] = (0.3, 0.3, 0.1)
    >>> mask = np.array([[True, True], [False, False]])
    >>> round(erythema_index_of_mean(img, mask), 3)
    30.103
    """
    a = _as_rgb(linear, image=True)
    m = _as_mask(mask, a.shape[:2])
    mean = _masked_channel_mean(a, m, "linear")
    return float(_EI_SCALE * np.log10(max(mean[0], EPS) / max(mean[1], EPS)))


def erythema_shift(log_gain_rg: float) -> float:
    r"""Change of the erythema index when the light's red gain changes by ``exp(log_gain_rg)``
    relative to green.

    .. math:: \Delta EI = \frac{100}{\ln 10} \ln\frac{g_R}{g_G}

    Exact for :func:`erythema_index` and :func:`erythema_index_of_mean` under a diagonal change
    of light (both R and the mean of R scale by g_R).  Used to map a photo onto another photo's
    light (:mod:`analyzer.recovery.relative`).

    >>> round(erythema_shift(0.1), 4)
    4.3429
    """
    return _EI_SCALE * float(log_gain_rg) / float(np.log(10.0))


def a_star_of_mean(linear: np.ndarray, mask: np.ndarray) -> float:
    r"""CIELAB a* (D65, 2 degree observer) of the mean linear colour over the mask.

    Parameters
    ----------
    linear : ndarray of float, shape (H, W, 3)
        Linear sRGB, colour-normalised (chart-corrected), nominally in [0, 1].  Values outside
        the mask are not read.
    mask : ndarray of bool, shape (H, W)
        True on the pixels to average; at least one.

    Returns
    -------
    float
        a*, unitless; about 5-25 on skin (CIELAB's a* spans roughly -90 to +100 for sRGB
        colours).

    Raises
    ------
    ValueError
        Wrong dtype or shape of either argument, an empty mask, or a NaN/infinite value inside
        the mask.

    Notes
    -----
    The mean colour (R, G, B) over the mask (float64) is converted with
    :func:`analyzer.colour.spaces.linear_to_lab`:
    XYZ = M_sRGB (R, G, B); a* = 500 (f(X / X_n) - f(Y / Y_n)), with f the CIELAB cube-root
    function and (X_n, Y_n, Z_n) the D65 white.

    Unlike the erythema index, a* is **not** exposure invariant: above the small linear
    segment of CIELAB it scales with the cube root of the light level, x 2^(-1/3) = 0.79 when
    exposure halves (-3.7 a* at a* = 18, docs/science.md#cielab-redness), so it is meaningful only after chart
    correction, for comparison with chromameter studies.  Camera
    a* agrees only moderately with instruments (r <= 0.55 in a smartphone study).

    References
    ----------
    .. [1] CIE 15:2004, Colorimetry.
    .. [2] IEC 61966-2-1:1999 (sRGB primaries and D65 white).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.redness import a_star_of_mean
    >>> img = np.full((4, 4, 3), (0.45, 0.30, 0.25), np.float32)
    >>> round(a_star_of_mean(img, np.ones((4, 4), bool)), 2)
    9.31
    """
    a = _as_rgb(linear, image=True)
    m = _as_mask(mask, a.shape[:2])
    mean = _masked_channel_mean(a, m, "linear")
    return float(linear_to_lab(mean)[1])
