"""Conversions between encoded sRGB, linear sRGB and CIELAB.

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
IEC 61966-2-1:1999, sRGB transfer function.  CIE 15:2004, CIELAB.  Sharma, Wu & Dalal (2005),
"The CIEDE2000 colour-difference formula", Color Res. Appl. 30:21 (implemented by scikit-image).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from skimage import color as _skcolor

__all__ = [
    "srgb_to_linear",
    "linear_to_srgb",
    "encoded_to_linear",
    "linear_to_lab",
    "lab_to_linear",
    "delta_e00",
]


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1).

    Parameters
    ----------
    v : ndarray of float, any shape, values in [0, 1]

    Returns
    -------
    ndarray of float32, same shape, values in [0, 1]

    Examples
    --------
    >>> float(srgb_to_linear(np.array(0.5)))  # doctest: +ELLIPSIS
    0.21404...
    """
    v = np.asarray(v, dtype=np.float32)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Encode linear light in [0, 1] to sRGB values in [0, 1] (values outside are clipped)."""
    v = np.clip(np.asarray(v, dtype=np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055).astype(np.float32)


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
    xyz = rgb @ _RGB_TO_XYZ.T
    return _skcolor.xyz2lab(xyz, illuminant="D65", observer="2")


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2 deg) to linear sRGB (float64, (..., 3)); out-of-gamut values are not clipped."""
    xyz = _skcolor.lab2xyz(np.asarray(lab, dtype=np.float64), illuminant="D65", observer="2")
    return xyz @ np.linalg.inv(_RGB_TO_XYZ).T


def delta_e00(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between two CIELAB arrays (Sharma et al. 2005)."""
    return _skcolor.deltaE_ciede2000(np.asarray(lab1, float), np.asarray(lab2, float))


# Linear sRGB -> XYZ (D65), IEC 61966-2-1 (the matrix scikit-image also uses).
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
