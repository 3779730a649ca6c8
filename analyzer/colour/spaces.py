"""The colour facts and conversions: the only home of white points, primaries, luminance
weights, the sRGB transfer curve, RGB<->XYZ matrices, CIELAB and chromatic adaptation.

Every other module imports these names; none writes a white point, a matrix or the sRGB curve
again (docs/architecture.md).

Domain and range
----------------
================  =========================================  ===========
quantity          representation                              range
================  =========================================  ===========
encoded sRGB      uint8 (0-255) or uint16 (0-65535), (..., 3)  full
linear sRGB       float32, (..., 3), IEC 61966-2-1 primaries  [0, 1]
CIELAB            float, (..., 3), D65 2-deg white             L* [0, 100]
================  =========================================  ===========

References
----------
IEC 61966-2-1:1999, sRGB primaries, D65 white, transfer function and the RGB->XYZ matrix.
CIE 15:2004, CIELAB and the D50/D65 white points.  ICC.1:2010 7.2.16, the PCS illuminant.
Lam (1985), the Bradford cone-response matrix (as tabulated by B. Lindbloom).
ITU-R BT.709-6, luminance Y = 0.2126 R + 0.7152 G + 0.0722 B (the Y row of the sRGB matrix,
which shares BT.709's primaries and white).  Sharma, Wu & Dalal (2005),
"The CIEDE2000 colour-difference formula", Color Res. Appl. 30:21 (implemented by scikit-image).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from skimage import color as _skcolor

__all__ = [
    "BRADFORD",
    "BT709_LUMINANCE_WEIGHTS",
    "D50_WHITE_XYZ",
    "D65_WHITE_XYZ",
    "D65_XY",
    "ICC_PCS_WHITE_XYZ",
    "LINEAR_SRGB_FROM_XYZ",
    "LINEAR_SRGB_FROM_XYZ_PRINTED",
    "LUMINANCE_WEIGHTS",
    "SRGB_PRIMARIES_XY",
    "XYZ_FROM_LINEAR_SRGB",
    "bradford_matrix",
    "lab_to_xyz",
    "luminance",
    "rgb_to_xyz_matrix",
    "xy_to_xyz",
    "xyz_to_lab",
    "srgb_to_linear",
    "linear_to_srgb",
    "linear_to_srgb8",
    "encoded_to_linear",
    "linear_to_lab",
    "lab_to_linear",
    "delta_e00",
]


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


# --- whites, primaries, matrices -----------------------------------------------------------------

D65_XY: tuple[float, float] = (0.3127, 0.3290)
"""CIE 1931 xy chromaticity of the sRGB white, D65 (IEC 61966-2-1)."""

SRGB_PRIMARIES_XY: tuple[tuple[float, float], ...] = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
"""xy chromaticities of the sRGB (and BT.709) red, green and blue primaries (IEC 61966-2-1)."""

D65_WHITE_XYZ: tuple[float, float, float] = (0.95047, 1.0, 1.08883)
"""CIE D65, 2 degrees, Y = 1 (CIE 15:2004); the white of our CIELAB (as scikit-image's)."""

D50_WHITE_XYZ: tuple[float, float, float] = (0.96422, 1.0, 0.82521)
"""CIE D50, 2 degrees, Y = 1 (CIE 15:2004); the white of the ColorChecker's published L*a*b*
and the one Lindbloom uses for his Bradford matrices."""

ICC_PCS_WHITE_XYZ: tuple[float, float, float] = (0.9642, 1.0, 0.8249)
"""The ICC profile connection space illuminant, D50 rounded as ICC.1:2010 7.2.16 fixes it
(s15Fixed16 values 0x0000F6D6, 0x00010000, 0x0000D32D)."""

XYZ_FROM_LINEAR_SRGB: np.ndarray = _readonly(np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
))
"""(3, 3) float64, read-only: linear sRGB -> XYZ (D65, Y = 1), IEC 61966-2-1 (the matrix
scikit-image also uses).  ``xyz = rgb @ XYZ_FROM_LINEAR_SRGB.T``."""

LINEAR_SRGB_FROM_XYZ: np.ndarray = _readonly(np.linalg.inv(XYZ_FROM_LINEAR_SRGB))
"""(3, 3) float64, read-only: the inverse of :data:`XYZ_FROM_LINEAR_SRGB`."""

LUMINANCE_WEIGHTS: np.ndarray = _readonly(XYZ_FROM_LINEAR_SRGB[1].astype(np.float32))
"""(3,) float32, read-only: relative luminance Y of linear sRGB, the Y row of
:data:`XYZ_FROM_LINEAR_SRGB` (0.212671, 0.715160, 0.072169; within 1e-4 of BT.709's 0.2126,
0.7152, 0.0722, which are derived from the primaries and rounded).  They sum to 1, so a grey of
value v has Y = v."""

BT709_LUMINANCE_WEIGHTS: np.ndarray = _readonly(np.array([0.2126, 0.7152, 0.0722], np.float32))
"""(3,) float32, read-only: the luminance coefficients as ITU-R BT.709-6 prints them (the Y row
derived from the primaries, four decimals).  Only for drawing synthetic photos
(:mod:`analyzer.samples`, ``bench/balance_methods.py``): the committed ``sample_images/`` and the
figures of ``python -m analyzer.validate`` and the benchmarks (docs/validation.md) were made with
them, and the 1e-4 that separates them from :data:`LUMINANCE_WEIGHTS` moves those figures.
Measurements use :data:`LUMINANCE_WEIGHTS`."""

LINEAR_SRGB_FROM_XYZ_PRINTED: np.ndarray = _readonly(np.array(
    [
        [3.2406, -1.5372, -0.4986],
        [-0.9689, 1.8758, 0.0415],
        [0.0557, -0.2040, 1.0570],
    ]
))
"""(3, 3) float64, read-only: XYZ (D65, Y = 1) -> linear sRGB as IEC 61966-2-1 prints it (four
decimals; within 4e-4 of :data:`LINEAR_SRGB_FROM_XYZ`).  Only for the sample generator's light
model (:mod:`analyzer.samples`), for the reason given at :data:`BT709_LUMINANCE_WEIGHTS`."""

BRADFORD: np.ndarray = _readonly(np.array(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ]
))
"""(3, 3) float64, read-only: the Bradford cone-response matrix (Lam 1985), rows = cone
responses from XYZ."""


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y of linear sRGB.

    Parameters
    ----------
    rgb : ndarray of float, shape (..., 3), linear sRGB

    Returns
    -------
    ndarray of float32, shape (...): ``rgb @ LUMINANCE_WEIGHTS``

    Examples
    --------
    >>> float(luminance(np.array([0.5, 0.5, 0.5], np.float32)))  # doctest: +ELLIPSIS
    0.5...
    """
    return np.asarray(rgb, dtype=np.float32) @ LUMINANCE_WEIGHTS


def xy_to_xyz(xy: tuple[float, float]) -> np.ndarray:
    """XYZ (Y = 1) of an xy chromaticity, float64 (3,)."""
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def rgb_to_xyz_matrix(primaries_xy, white_xy) -> np.ndarray:
    """Linear RGB -> XYZ matrix (3, 3) of an RGB space given by its primaries' and white's xy
    chromaticities, white at Y = 1 (SMPTE RP 177-1993)."""
    p = np.stack([xy_to_xyz(xy) for xy in primaries_xy], axis=1)
    gains = np.linalg.solve(p, xy_to_xyz(white_xy))
    return p * gains


def bradford_matrix(src_white, dst_white) -> np.ndarray:
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
    cone_src = BRADFORD @ np.asarray(src_white, float)
    cone_dst = BRADFORD @ np.asarray(dst_white, float)
    return np.linalg.inv(BRADFORD) @ np.diag(cone_dst / cone_src) @ BRADFORD


def lab_to_xyz(lab: np.ndarray, white=D65_WHITE_XYZ) -> np.ndarray:
    """CIELAB to XYZ (CIE 15:2004), relative to ``white`` (XYZ, Y = 1); float64 (..., 3)."""
    lab = np.asarray(lab, float)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    eps = 6.0 / 29.0
    t = np.where(f > eps, f**3, 3 * eps**2 * (f - 4.0 / 29.0))
    return t * np.asarray(white, float)


def xyz_to_lab(xyz: np.ndarray, white=D65_WHITE_XYZ) -> np.ndarray:
    """XYZ to CIELAB (CIE 15:2004), relative to ``white`` (XYZ, Y = 1); float64 (..., 3)."""
    t = np.asarray(xyz, float) / np.asarray(white, float)
    eps = 6.0 / 29.0
    f = np.where(t > eps**3, np.cbrt(t), t / (3 * eps**2) + 4.0 / 29.0)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


# --- the sRGB curve ----------------------------------------------------------------------------------


def srgb_to_linear(v: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1).

    Parameters
    ----------
    v : ndarray of float, any shape, values in [0, 1]

    dtype : numpy float dtype
        float32 (default) for pixels; float64 where a profile's curve is compared with sRGB's.

    Returns
    -------
    ndarray of ``dtype``, same shape, values in [0, 1]

    Examples
    --------
    >>> float(srgb_to_linear(np.array(0.5)))  # doctest: +ELLIPSIS
    0.21404...
    """
    v = np.asarray(v, dtype=dtype)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(dtype)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Encode linear light in [0, 1] to sRGB values in [0, 1] (values outside are clipped)."""
    v = np.clip(np.asarray(v, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055).astype(np.float32)


def linear_to_srgb8(v: np.ndarray) -> np.ndarray:
    """Encode linear light to 8-bit sRGB codes: :func:`linear_to_srgb` (clipped to [0, 1]) x 255,
    rounded to the nearest code.  The inverse of ``encoded_to_linear`` on uint8.

    Parameters
    ----------
    v : ndarray of float, any shape, linear sRGB

    Returns
    -------
    ndarray of uint8, same shape

    Examples
    --------
    >>> linear_to_srgb8(np.array([0.0, 0.18, 0.5, 1.0, 2.0])).tolist()
    [0, 118, 188, 255, 255]
    """
    return np.round(linear_to_srgb(v) * np.float32(255.0)).astype(np.uint8)


@lru_cache(maxsize=2)
def _decode_lut(levels: int) -> np.ndarray:
    lut = srgb_to_linear(np.arange(levels, dtype=np.float64) / (levels - 1))
    lut.setflags(write=False)
    return lut


def encoded_to_linear(pixels: np.ndarray) -> np.ndarray:
    """Encoded sRGB integers to linear float32 through a look-up table.

    Parameters
    ----------
    pixels : ndarray of uint8 or uint16, shape (..., 3)

    Returns
    -------
    ndarray of float32, same shape, linear sRGB in [0, 1]

    Raises
    ------
    TypeError
        For any other dtype.
    """
    if pixels.dtype == np.uint8:
        if pixels.ndim == 3 and pixels.shape[2] <= 4:
            return cv2.LUT(pixels, _decode_lut(256))  # the same values, 2.5x faster than indexing
        return _decode_lut(256)[pixels]
    if pixels.dtype == np.uint16:
        return _decode_lut(65536)[pixels]
    raise TypeError(f"encoded sRGB must be uint8 or uint16, got {pixels.dtype}")


def linear_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB (float, (..., 3), [0, 1]) to CIELAB with the D65 2-degree white.

    Examples
    --------
    >>> np.round(linear_to_lab(np.array([1.0, 0.0, 0.0])), 2)   # sRGB red
    array([53.24, 80.09, 67.2 ])
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    xyz = rgb @ XYZ_FROM_LINEAR_SRGB.T
    return _skcolor.xyz2lab(xyz, illuminant="D65", observer="2")


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2 deg) to linear sRGB (float64, (..., 3)); out-of-gamut values are not clipped."""
    xyz = _skcolor.lab2xyz(np.asarray(lab, dtype=np.float64), illuminant="D65", observer="2")
    return xyz @ LINEAR_SRGB_FROM_XYZ.T


def delta_e00(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between two CIELAB arrays (Sharma et al. 2005)."""
    return _skcolor.deltaE_ciede2000(np.asarray(lab1, float), np.asarray(lab2, float))
