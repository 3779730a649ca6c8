r"""The light of a synthetic photo: the colour cast that auto white balance leaves, and exposure.

A light source of correlated colour temperature (CCT) T has chromaticity xy(T).  Seen by a
camera whose white is D65, a grey surface under it is rendered with diagonal linear-sRGB gains

.. math:: g_{\mathrm{full}} = \frac{M\,\mathrm{XYZ}(T)}{M\,\mathrm{XYZ}(D65)}, \qquad
          g_{\mathrm{full}} \leftarrow g_{\mathrm{full}} / g_{\mathrm{full}}[G]

(von Kries on the sRGB primaries; M the XYZ -> linear sRGB matrix of IEC 61966-2-1,
:data:`analyzer.colour.spaces.LINEAR_SRGB_FROM_XYZ_PRINTED`; both whites
at Y = 1; green-normalised, so the cast changes colour but not the green level).  A phone's auto
white balance removes part of it; the residual is modelled as

.. math:: g = g_{\mathrm{full}}^{\,1 - s}

with ``s`` the balance strength (1 = perfect, 0 = none).  Exposure multiplies all three.

Chromaticity of the light (CIE 13.3-1995 practice for reference illuminants: a black body below
5000 K, CIE daylight from 5000 K):

=================  ==============================================  =============================
CCT                locus                                           formula
=================  ==============================================  =============================
1667-4999 K        Planckian (black body)                          Kim et al. (2002), cubic
                                                                   spline in 1/T
5000-25000 K       CIE daylight                                    CIE 15:2004, eqs. 3.3-3.4
=================  ==============================================  =============================

Domain and range
----------------
=================  ======================================  ====================================
quantity           representation                          range
=================  ======================================  ====================================
cct_k              float, kelvin                           1667-25000
xy                 tuple of 2 floats, CIE 1931 2 deg        x 0.25-0.57, y 0.25-0.42
gains              float64 (3,), linear sRGB, G = 1         2700 K full: (2.40, 1, 0.24)
=================  ======================================  ====================================

References
----------
.. [1] B. Kang, O. Moon, C. Hong, H. Lee, B. Cho and Y. Kim, "Design of advanced color
   temperature control system for HDTV applications", J. Korean Phys. Soc. 41(6):865-871
   (2002) (the Planckian-locus approximation often cited as "Kim et al. 2002").
.. [2] CIE 15:2004, *Colorimetry*, 3rd ed., section 3.1 (daylight locus, eqs. 3.3 and 3.4).
.. [3] CIE 13.3-1995, *Method of measuring and specifying colour rendering properties of light
   sources* (reference illuminant: Planckian below 5000 K, daylight above).
.. [4] IEC 61966-2-1:1999, sRGB: primaries, D65 white (x, y) = (0.3127, 0.3290), and the
   XYZ -> linear RGB matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..colour.spaces import D65_XY, LINEAR_SRGB_FROM_XYZ_PRINTED, xy_to_xyz

__all__ = ["NEUTRAL", "Light", "full_cast_gains", "illuminant_xy", "residual_gains"]

_PLANCK_DAYLIGHT_SWITCH_K = 5000.0
"""K.  Black body below, CIE daylight from here (CIE 13.3-1995)."""

_CCT_RANGE_K = (1667.0, 25000.0)
"""K.  Validity range of both approximations."""


@dataclass(frozen=True)
class Light:
    """The light of one photo after the camera's auto white balance.

    Attributes
    ----------
    cct_k : float
        Correlated colour temperature of the room light, kelvin, 1667-25000 (typical rooms:
        2700 K warm LED/tungsten, 4000 K neutral LED, 5000-7500 K daylight and shade).
    awb_strength : float
        Fraction of the cast the camera's auto white balance removes, in [0, 1]: the residual
        cast is ``full_cast ** (1 - awb_strength)``; 1 is a perfectly neutral photo.
    exposure : float
        Factor on linear light (> 0); 1 is the generator's nominal exposure.
    """

    cct_k: float
    awb_strength: float
    exposure: float

    def __post_init__(self) -> None:
        lo, hi = _CCT_RANGE_K
        if not lo <= self.cct_k <= hi:
            raise ValueError(f"cct_k must be in [{lo:g}, {hi:g}] K, got {self.cct_k}")
        if not 0.0 <= self.awb_strength <= 1.0:
            raise ValueError(f"awb_strength must be in [0, 1], got {self.awb_strength}")
        if not (np.isfinite(self.exposure) and self.exposure > 0):
            raise ValueError(f"exposure must be a positive number, got {self.exposure}")

    def gains(self) -> np.ndarray:
        """Linear-sRGB gains of this light, exposure included: float64 (3,), read-only."""
        g = residual_gains(self.cct_k, self.awb_strength) * self.exposure
        g.setflags(write=False)
        return g


NEUTRAL = Light(cct_k=6500.0, awb_strength=1.0, exposure=1.0)
"""A perfectly balanced photo at nominal exposure: gains exactly (1, 1, 1)."""


def _planckian_x(t: float) -> float:
    """x of a black body at t K, 1667-25000 K (Kang et al. 2002, cubic in 1/T)."""
    if t < 4000.0:
        return -0.2661239e9 / t**3 - 0.2343589e6 / t**2 + 0.8776956e3 / t + 0.179910
    return -3.0258469e9 / t**3 + 2.1070379e6 / t**2 + 0.2226347e3 / t + 0.240390


def _planckian_y(x: float, t: float) -> float:
    """y of a black body from its x (Kang et al. 2002, cubic in x, three CCT ranges)."""
    if t < 2222.0:
        return -1.1063814 * x**3 - 1.34811020 * x**2 + 2.18555832 * x - 0.20219683
    if t < 4000.0:
        return -0.9549476 * x**3 - 1.37418593 * x**2 + 2.09137015 * x - 0.16748867
    return 3.0817580 * x**3 - 5.87338670 * x**2 + 3.75112997 * x - 0.37001483


def _daylight_xy(t: float) -> tuple[float, float]:
    """xy of CIE daylight at t K, 4000-25000 K (CIE 15:2004 eqs. 3.3, 3.4)."""
    if t <= 7000.0:
        x = -4.6070e9 / t**3 + 2.9678e6 / t**2 + 0.09911e3 / t + 0.244063
    else:
        x = -2.0064e9 / t**3 + 1.9018e6 / t**2 + 0.24748e3 / t + 0.237040
    return x, -3.000 * x**2 + 2.870 * x - 0.275


def illuminant_xy(cct_k: float) -> tuple[float, float]:
    """CIE 1931 xy of a room light of the given CCT.

    Parameters
    ----------
    cct_k : float
        Kelvin, 1667-25000.

    Returns
    -------
    (x, y) : tuple of float
        Black body below 5000 K (Kang et al. 2002), CIE daylight from 5000 K (CIE 15:2004).

    Raises
    ------
    ValueError
        ``cct_k`` outside 1667-25000 K.

    Examples
    --------
    >>> x, y = illuminant_xy(2856)                    # CIE illuminant A: (0.4476, 0.4074)
    >>> abs(x - 0.4476) < 1e-3 and abs(y - 0.4074) < 1e-3
    True
    >>> [round(v, 3) for v in illuminant_xy(6504)]     # D65: (0.3127, 0.3290)
    [0.313, 0.329]
    """
    lo, hi = _CCT_RANGE_K
    t = float(cct_k)
    if not lo <= t <= hi:
        raise ValueError(f"cct_k must be in [{lo:g}, {hi:g}] K, got {cct_k}")
    if t >= _PLANCK_DAYLIGHT_SWITCH_K:
        return _daylight_xy(t)
    x = _planckian_x(t)
    return x, _planckian_y(x, t)


def _linear_rgb_of_white(xy: tuple[float, float]) -> np.ndarray:
    """Linear sRGB of a white of chromaticity xy at Y = 1, float64 (3,)."""
    return LINEAR_SRGB_FROM_XYZ_PRINTED @ xy_to_xyz(xy)


def full_cast_gains(cct_k: float) -> np.ndarray:
    """Diagonal linear-sRGB gains of a light relative to D65, green-normalised (no balance).

    Parameters
    ----------
    cct_k : float
        Kelvin, 1667-25000.

    Returns
    -------
    ndarray of float64, shape (3,)
        (g_R, 1, g_B); warm light has g_R > 1 > g_B.

    Examples
    --------
    >>> [round(float(v), 3) for v in full_cast_gains(2700)]
    [2.397, 1.0, 0.24]
    """
    rgb = _linear_rgb_of_white(illuminant_xy(cct_k)) / _linear_rgb_of_white(D65_XY)
    return rgb / rgb[1]


def residual_gains(cct_k: float, awb_strength: float) -> np.ndarray:
    """The cast left after auto white balance: ``full_cast_gains(cct_k) ** (1 - awb_strength)``.

    Parameters
    ----------
    cct_k : float
        Kelvin, 1667-25000.
    awb_strength : float
        In [0, 1]; 1 removes the cast completely.

    Returns
    -------
    ndarray of float64, shape (3,), green = 1.

    Examples
    --------
    >>> residual_gains(3000, 1.0).tolist()
    [1.0, 1.0, 1.0]
    """
    if not 0.0 <= awb_strength <= 1.0:
        raise ValueError(f"awb_strength must be in [0, 1], got {awb_strength}")
    return full_cast_gains(cct_k) ** (1.0 - float(awb_strength))
