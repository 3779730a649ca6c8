r"""Fine-scale texture (roughness) and flaking (small bright specks) at a fixed physical scale.

Both measures work on log luminance, so a change of exposure (a factor on all channels) is a
constant offset that they ignore, and on a crop already resampled to a fixed number of pixels
per millimetre (``Settings.texture_px_per_mm``, with
:func:`analyzer.face.scale.resample_to_scale`): texture statistics change by 25-60 % when
resolution halves (docs/science.md#physical-scale), so the scale is fixed in millimetres, not pixels.

Domain and range
----------------
==================  ==========================================  ================================
quantity            representation                              range / typical on skin
==================  ==========================================  ================================
linear              linear sRGB, float, (..., 3)                [0, 1]
log luminance       float32, (H, W), ln of sRGB's Y             [-13.8, 0] (-13.8 = ln EPS)
mask                bool, (H, W)                                True on skin
roughness           float, percent                              >= 0; a few percent on skin
flaking density     float, specks per cm^2 of skin              >= 0; 0 on intact skin
==================  ==========================================  ================================

References
----------
.. [1] ITU-R BT.709-6 (2015) and IEC 61966-2-1:1999: luminance weights of the sRGB primaries
   (:data:`analyzer.colour.spaces.LUMINANCE_WEIGHTS`).
.. [2] H. Knutsson and C.-F. Westin, "Normalized and differential convolution", Proc. IEEE
   CVPR 1993, pp. 515-523 (masked smoothing by normalised convolution).
.. [3] P. Soille, *Morphological Image Analysis*, 2nd ed., Springer (2003): top-hat
   transform, geodesic reconstruction.
.. [4] P. J. Rousseeuw and C. Croux, "Alternatives to the median absolute deviation",
   J. Am. Stat. Assoc. 88:1273-1283 (1993): MAD x 1.4826 as a robust standard deviation.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..colour.spaces import LUMINANCE_WEIGHTS
from .redness import EPS, _as_float_array, _as_mask, _as_rgb, _crop_to_mask, _positive

__all__ = ["log_luminance", "log_of_luminance", "roughness", "flaking_density"]

_MAD_TO_SIGMA = 1.4826
"""MAD x 1.4826 estimates the standard deviation of normally distributed data."""

_BIG = float(np.finfo(np.float32).max)
_STATS_SAMPLE = 1 << 16
"""At most this many pixels (a regular stride through the mask) enter the median and MAD of
:func:`flaking_density`; enough for about 0.5 % precision, and it keeps the cost fixed."""


def _as_log_lum(log_lum, mask):
    """Checked (log_lum float32 (H, W), mask) pair; mask must select at least one pixel."""
    a = _as_float_array(log_lum, "log_lum")
    if a.ndim != 2:
        raise ValueError(f"log_lum must have shape (H, W), got shape {a.shape}")
    m = _as_mask(mask, a.shape)
    return a.astype(np.float32, copy=False), m


def _disc(radius: int) -> np.ndarray:
    """Digital disc structuring element of the given radius in pixels, uint8 (2r+1, 2r+1)."""
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def log_luminance(linear: np.ndarray) -> np.ndarray:
    r"""Natural log of the relative luminance of linear sRGB.

    Parameters
    ----------
    linear : ndarray of float, shape (..., 3), typically (H, W, 3)
        Linear sRGB, colour-normalised, nominally in [0, 1].

    Returns
    -------
    ndarray of float32, shape (...)
        ln Y; 0 for white, at least ln(1e-6) = -13.8.  NaN where an input channel is NaN.

    Raises
    ------
    ValueError
        If ``linear`` is not floating point or its last axis is not 3.

    Notes
    -----
    .. math:: \ln \max(Y, \epsilon), \quad Y = 0.212671 R + 0.715160 G + 0.072169 B,
              \quad \epsilon = 10^{-6}

    The weights are :data:`analyzer.colour.spaces.LUMINANCE_WEIGHTS` (BT.709's 0.2126, 0.7152,
    0.0722 to within 1e-4).  The guard is ``max(Y, eps)`` rather than ``Y + eps``: it keeps dark
    and slightly negative (over-corrected) pixels finite while leaving every pixel with Y >= eps
    exactly ``ln Y``, so exposure x k is exactly a constant ``ln k`` there.

    References
    ----------
    .. [1] ITU-R BT.709-6; IEC 61966-2-1:1999.

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.texture import log_luminance
    >>> y = log_luminance(np.array([[[1.0, 1.0, 1.0], [0.5, 0.5, 0.5]]], np.float32))
    >>> y.shape, [round(float(v), 4) for v in y[0]]
    ((1, 2), [0.0, -0.6931])
    """
    a = _as_rgb(linear)
    return log_of_luminance(a @ LUMINANCE_WEIGHTS.astype(a.dtype))


def log_of_luminance(y: np.ndarray) -> np.ndarray:
    """``ln max(Y, 1e-6)`` of relative luminance ``Y`` (float), as float32: the second half of
    :func:`log_luminance`, for a caller that resampled ``Y`` (one channel) rather than the
    three colour channels (resampling is linear, so the two orders agree).

    >>> [round(float(v), 4) for v in log_of_luminance(np.array([1.0, 0.5, 0.0], np.float32))]
    [0.0, -0.6931, -13.8155]
    """
    y = np.asarray(y)
    return np.log(np.maximum(y, y.dtype.type(EPS))).astype(np.float32, copy=False)


def roughness(
    log_lum: np.ndarray,
    mask: np.ndarray,
    *,
    px_per_mm: float,
    sigma_mm: float = 1.0,
) -> float:
    r"""Fine-scale roughness: 100 x standard deviation of high-passed log luminance.

    Parameters
    ----------
    log_lum : ndarray of float, shape (H, W)
        Log luminance (:func:`log_luminance`) of a crop at ``px_per_mm``.  Values outside the
        mask are not read (they may be NaN).
    mask : ndarray of bool, shape (H, W)
        True on the skin to measure; at least one pixel.
    px_per_mm : float, keyword-only
        Scale of the crop, pixels per millimetre (``Settings.texture_px_per_mm``).
    sigma_mm : float, keyword-only, default 1.0
        Gaussian scale separating fine texture (kept) from shading and shape (removed), mm
        (``Settings.texture_sigma_mm``).  ``sigma_mm * px_per_mm`` must be >= 0.5 px.

    Returns
    -------
    float
        Percent (a high-pass value of 0.01 in ln units is a 1 % luminance change).  0 for a
        flat field; a few percent on skin.  NaN when the mask, eroded by one sigma, keeps no
        pixel (a region thinner than about 2 sigma cannot be measured at this scale).

    Raises
    ------
    ValueError
        Wrong dtype or shape, an empty mask, a NaN/infinite value inside the mask, or a
        non-positive scale.

    Notes
    -----
    With M the mask, :math:`G_\sigma` a Gaussian of :math:`\sigma` = sigma_mm x px_per_mm px
    (truncated at 4 sigma) and :math:`L` the log luminance minus its mean over M:

    .. math::
        B = \frac{G_\sigma * (M L)}{G_\sigma * M}, \qquad H = L - B, \qquad
        \mathrm{roughness} = 100 \, \mathrm{std}_{p \in M_e} H_p

    B is the normalised convolution (Knutsson & Westin 1993): only skin pixels enter the
    local mean, so hair, eyes or background next to the region do not leak in.  The standard
    deviation (population, float64) is taken over :math:`M_e`, the mask eroded by a disc of
    round(sigma) px (pixels beyond the image border count as outside), where the local mean is
    two-sided.  Plain (not robust) standard deviation: the wrinkles, pores and flakes that
    make skin rough are exactly its heavy tails.

    Properties: exposure x k adds ln k to L, which the mean removes (invariant); a slow
    shading gradient is removed by B (a linear ramp exactly, away from the mask edge); white
    noise of standard deviation s reads about 100 s sqrt(1 - 3 / (4 pi sigma^2)), within 1 %
    of 100 s at sigma = 4 px; the value is proportional to the amplitude of the fine
    texture.  Confounders: image noise and JPEG artefacts add to it,
    blur removes it (gate blurred frames first); specular highlights and hair raise it.

    References
    ----------
    .. [1] Knutsson & Westin, Proc. IEEE CVPR 1993, 515-523.

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.texture import roughness
    >>> rng = np.random.default_rng(0)
    >>> log_lum = (-1.2 + rng.normal(0.0, 0.02, (200, 200))).astype(np.float32)
    >>> round(roughness(log_lum, np.ones((200, 200), bool), px_per_mm=4.0), 1)
    2.0
    """
    a, m = _as_log_lum(log_lum, mask)
    ppm = _positive(px_per_mm, "px_per_mm")
    sigma = _positive(sigma_mm, "sigma_mm") * ppm
    if sigma < 0.5:
        raise ValueError(
            f"sigma_mm x px_per_mm = {sigma:.3g} px is below 0.5 px: the crop is too coarse "
            "to separate fine texture; resample it to Settings.texture_px_per_mm first"
        )
    # Everything outside the mask's bounding box has zero weight: work on the box only.
    a, m = _crop_to_mask(a, m)
    m8 = np.ascontiguousarray(m).view(np.uint8)
    mean = cv2.mean(np.ascontiguousarray(a), m8)[0]
    if not math.isfinite(mean):
        raise ValueError("log_lum has NaN or infinite values inside the mask")
    x = np.where(m, a - np.float32(mean), np.float32(0.0))
    ksize = 2 * math.ceil(4.0 * sigma) + 1
    blur = {"ksize": (ksize, ksize), "sigmaX": sigma, "sigmaY": sigma, "borderType": cv2.BORDER_CONSTANT}
    num = cv2.GaussianBlur(x, **blur)
    den = cv2.GaussianBlur(m.astype(np.float32), **blur)
    highpass = x - num / np.maximum(den, np.float32(1e-12))
    radius = max(1, round(sigma))
    inner = cv2.erode(m8, _disc(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if not inner.any():
        return float("nan")
    _, std = cv2.meanStdDev(highpass, mask=inner)
    return float(100.0 * std[0, 0])


def flaking_density(
    log_lum: np.ndarray,
    mask: np.ndarray,
    *,
    px_per_mm: float,
    min_mm: float = 0.3,
    max_mm: float = 2.0,
    threshold_k: float = 5.0,
    min_contrast: float = 0.095,
) -> float:
    r"""Flaking: small bright specks of flake size, counted per cm^2 of skin.

    Parameters
    ----------
    log_lum : ndarray of float, shape (H, W)
        Log luminance (:func:`log_luminance`) of a crop at ``px_per_mm``.  Values outside the
        mask are not read (they may be NaN).
    mask : ndarray of bool, shape (H, W)
        True on the skin to measure; at least one pixel.
    px_per_mm : float, keyword-only
        Scale of the crop, pixels per millimetre (``Settings.texture_px_per_mm``).
    min_mm, max_mm : float, keyword-only, defaults 0.3 and 2.0
        Range of the equivalent diameter of a flake, mm (``Settings.flake_min_mm``,
        ``Settings.flake_max_mm``); 0 < min_mm < max_mm.
    threshold_k : float, keyword-only, default 5.0
        Detection threshold in robust standard deviations of the skin's own top-hat response.
    min_contrast : float, keyword-only, default 0.095
        Absolute floor of that threshold, ln units (0.095 = ln 1.1: a speck must be at least
        10 % brighter than the skin around it).

    Returns
    -------
    float
        Specks per cm^2 of skin (mask area at ``px_per_mm``), >= 0; 0 on intact skin.

    Raises
    ------
    ValueError
        Wrong dtype or shape, an empty mask, a NaN/infinite value inside the mask, or
        non-positive or inconsistent parameters.

    Notes
    -----
    1. **White top-hat by reconstruction** (Soille 2003).  With D a disc of radius
       r = floor(max_mm x px_per_mm / 2) + 1 px (wider than the largest flake), the opening
       :math:`\gamma_D L` removes every bright structure that D does not fit into;
       a few (r) steps of geodesic dilation under L restore the parts of larger bright
       structures that the digital disc nicks off; :math:`T = L - R_L(\gamma_D L) \ge 0` is
       then the height of small bright specks above the skin around them.  Only mask pixels
       take part (outside pixels are +inf for the erosion, -inf for the dilations), so a
       mask edge cannot create specks.
    2. **Threshold** :math:`\tau = \mathrm{med}(T) + \max(k \cdot 1.4826\,\mathrm{MAD}(T),
       c_{min})` over the mask: the skin's own fine texture sets the noise level, and the
       floor keeps a very smooth or synthetic image from counting faint bumps.
    3. **Specks**: 8-connected components of :math:`T > \tau` inside the mask whose
       equivalent diameter :math:`2\sqrt{A/\pi}/\mathrm{px\_per\_mm}` lies in
       [min_mm, max_mm].  At 4 px/mm a single pixel (0.28 mm) is below the 0.3 mm minimum.
    4. **Density** = count / (mask pixels / px_per_mm^2 / 100) per cm^2.

    Log units make it exposure invariant; larger bright structures (specular patches,
    smooth blobs, shading) are not counted; dark structures (pores, hair) are ignored.
    Limitations: specks that touch merge into one (count saturates at high density); a speck
    of exactly max_mm may fall on either side of the limit; a speck cut by the mask edge is
    measured by its visible part.  Confounders: makeup powder, specular dots on oily skin or
    sweat, JPEG ringing around edges, bright pore bridges on coarse skin.

    References
    ----------
    .. [1] P. Soille, Morphological Image Analysis, 2nd ed., Springer (2003).
    .. [2] Rousseeuw & Croux, J. Am. Stat. Assoc. 88:1273 (1993).

    Examples
    --------
    >>> import numpy as np
    >>> from analyzer.measure.texture import flaking_density
    >>> log_lum = np.full((100, 100), -1.2, np.float32)   # 25 x 25 mm = 6.25 cm^2 at 4 px/mm
    >>> log_lum[20:24, 20:24] += np.log(1.3)              # two 1 mm bright specks
    >>> log_lum[60:64, 70:74] += np.log(1.3)
    >>> flaking_density(log_lum, np.ones((100, 100), bool), px_per_mm=4.0)
    0.32
    """
    a, m = _as_log_lum(log_lum, mask)
    ppm = _positive(px_per_mm, "px_per_mm")
    lo = _positive(min_mm, "min_mm")
    hi = _positive(max_mm, "max_mm")
    if lo >= hi:
        raise ValueError(f"min_mm ({lo}) must be smaller than max_mm ({hi})")
    k = _positive(threshold_k, "threshold_k")
    floor = _positive(min_contrast, "min_contrast")
    area_cm2 = np.count_nonzero(m) / (ppm * ppm) / 100.0
    a, m = _crop_to_mask(a, m)
    if not math.isfinite(cv2.mean(np.ascontiguousarray(a), np.ascontiguousarray(m).view(np.uint8))[0]):
        raise ValueError("log_lum has NaN or infinite values inside the mask")

    # 1. top-hat by (limited) reconstruction, mask pixels only
    radius = math.floor(hi * ppm / 2.0) + 1
    disc = _disc(radius)
    limit = np.where(m, a, np.float32(-_BIG))
    marker = cv2.erode(
        np.where(m, a, np.float32(_BIG)), disc, borderType=cv2.BORDER_CONSTANT, borderValue=_BIG
    )
    marker[~m] = -_BIG
    marker = cv2.dilate(marker, disc, borderType=cv2.BORDER_CONSTANT, borderValue=-_BIG)
    step = np.ones((3, 3), np.uint8)
    for _ in range(radius):
        marker = cv2.dilate(marker, step, borderType=cv2.BORDER_CONSTANT, borderValue=-_BIG)
        np.minimum(marker, limit, out=marker)
    tophat = np.zeros_like(a)
    np.subtract(a, marker, out=tophat, where=m)

    # 2. threshold from the skin's own response (median and MAD on a regular sample)
    sample = tophat[m]
    if sample.size > _STATS_SAMPLE:
        sample = sample[:: -(-sample.size // _STATS_SAMPLE)]
    med = float(np.median(sample))
    mad = float(np.median(np.abs(sample - np.float32(med))))
    tau = med + max(k * _MAD_TO_SIGMA * mad, floor)

    # 3. components of flake size
    specks = ((tophat > tau) & m).view(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(specks, connectivity=8)
    diameter_mm = 2.0 * np.sqrt(stats[1:n, cv2.CC_STAT_AREA] / math.pi) / ppm
    count = int(np.count_nonzero((diameter_mm >= lo) & (diameter_mm <= hi)))
    return float(count / area_cm2)
