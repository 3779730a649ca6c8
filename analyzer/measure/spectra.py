r"""Published absorption spectra, and the camera OD directions of melanin and haemoglobin.

A check of the fixed Tsumura vectors of :mod:`analyzer.measure.chromophores` against measured
spectra (docs/science.md#checking-the-chromophore-vectors).  Nothing in the analysis pipeline
uses this module: it measures and documents, and moves no figure.

Method
------
A thin absorber of decadic absorbance :math:`A(\lambda) = k\,\varepsilon(\lambda)` on a base
reflectance :math:`R_0(\lambda)` lit by D65 gives the linear sRGB channels

.. math:: c_j(k) = \sum_\lambda w_j(\lambda)\, R_0(\lambda)\, 10^{-k \varepsilon(\lambda)},
          \qquad w_j(\lambda) = S_{D65}(\lambda)\,[M \bar{\mathbf x}(\lambda)]_j

with :math:`\bar{\mathbf x}` the CIE 1931 colour matching functions and :math:`M` =
:data:`analyzer.colour.spaces.LINEAR_SRGB_FROM_XYZ`; each channel is scaled so that a perfect
white gives 1 (white balance to the light, which does not change the direction below).  The
optical-density direction is the derivative at :math:`k = 0`,

.. math:: \frac{d(-\ln c_j)}{dk} = \ln 10\,
          \frac{\sum_\lambda w_j R_0 \varepsilon}{\sum_\lambda w_j R_0},

normalised to unit length.  Its scale (k's unit, decadic or natural) drops out.  Assumptions:
the light path through the absorber is the same at every wavelength (no scattering model), the
camera's channels are the sRGB colour matching functions (a real camera's are not), and a
flat base unless another is given (:func:`skin_like_reflectance`,
:func:`smooth_reflectance_of_colour`).

Data
----
========================  =================================  ==================================
name                      representation                     unit
========================  =================================  ==================================
WAVELENGTHS_NM            float64 (31,), 400-700 step 10     nm
HBO2_EXTINCTION           float64 (31,)                      cm^-1 / (mol/L), decadic
HB_EXTINCTION             float64 (31,)                      cm^-1 / (mol/L), decadic
CMF_XYZ                   float64 (31, 3): x, y, z bars      unitless, y-bar(555 nm) = 1
D65_SPD                   float64 (31,)                      relative, 100 at 560 nm
melanosome_absorption()   float64                            cm^-1
========================  =================================  ==================================

All arrays are read-only.  The tables are sampled at 10 nm from finer published tables: every
fifth row of Prahl's 2 nm haemoglobin table and every second row of the CIE 5 nm tables.  The
Q bands of HbO2 (542 and 576 nm) therefore appear at 540 and 580 nm, and its Soret band
(414 nm) at 410-420 nm.

References
----------
.. [1] S. Prahl, "Tabulated molar extinction coefficient for hemoglobin in water", Oregon
   Medical Laser Center, omlc.org/spectra/hemoglobin (1999), compiled from W. B. Gratzer (Med.
   Res. Council Labs, London) and N. Kollias (Wellman Laboratories, Boston).
.. [2] S. L. Jacques, "Melanosome absorption coefficient", Oregon Medical Laser Center,
   omlc.org/spectra/melanin: mu_a = 6.6e11 lambda^-3.33 cm^-1 (lambda in nm) inside a
   melanosome; and S. L. Jacques, "Optical properties of biological tissues: a review",
   Phys. Med. Biol. 58:R37-R61 (2013), which reviews melanin's power-law absorption.
.. [3] CIE 15:2004, Colorimetry, 3rd ed.: the CIE 1931 2-degree standard observer and the D65
   relative spectral power distribution (the 5 nm tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..colour.spaces import LINEAR_SRGB_FROM_XYZ
from .chromophores import SIGMA_HEMOGLOBIN, SIGMA_MELANIN, separate

__all__ = [
    "BLOOD_SATURATION",
    "CMF_XYZ",
    "D65_SPD",
    "HBO2_EXTINCTION",
    "HB_EXTINCTION",
    "MELANOSOME_EXPONENT",
    "MELANOSOME_SCALE",
    "WAVELENGTHS_NM",
    "VectorCheck",
    "angle_deg",
    "blood_extinction",
    "channel_weights",
    "check_vectors",
    "ei_per_od",
    "linear_srgb_of_reflectance",
    "melanosome_absorption",
    "od_change",
    "od_direction",
    "reading",
    "skin_like_reflectance",
    "smooth_reflectance_of_colour",
]


def _table(values, shape=None) -> np.ndarray:
    a = np.array(values, dtype=np.float64)
    if shape is not None:
        a = a.reshape(shape)
    a.setflags(write=False)
    return a


WAVELENGTHS_NM: np.ndarray = _table(np.arange(400, 701, 10))
"""Sample wavelengths, 400-700 nm in 10 nm steps (31 values), read-only."""

# Prahl (omlc.org, 1999), rows 400, 410, ..., 700 nm of the 2 nm table: (HbO2, Hb).
_HB_ROWS = (
    (266232, 223296), (466840, 303956), (480360, 407560), (246072, 528600),
    (102580, 413280), (62816, 103292), (44480, 23388.8), (33209.2, 16156.4),
    (26629.2, 14550), (23684.4, 16684), (20932.8, 20862), (20035.2, 25773.6),
    (24202.4, 31589.6), (39956.8, 39036.4), (53236, 46592), (43016, 53412),
    (32613.2, 53788), (44496, 45072), (50104, 37020), (14400.8, 28324.4),
    (3200, 14677.2), (1506, 9443.6), (942, 6509.6), (610, 5148.8),
    (442, 4345.2), (368, 3750.12), (319.6, 3226.56), (294, 2795.12),
    (277.6, 2407.92), (276, 2051.96), (290, 1794.28),
)
HBO2_EXTINCTION: np.ndarray = _table([r[0] for r in _HB_ROWS])
"""Oxy-haemoglobin molar extinction coefficient (decadic), cm^-1/(mol/L), at WAVELENGTHS_NM
(Prahl 1999)."""
HB_EXTINCTION: np.ndarray = _table([r[1] for r in _HB_ROWS])
"""Deoxy-haemoglobin molar extinction coefficient (decadic), cm^-1/(mol/L), at WAVELENGTHS_NM
(Prahl 1999)."""

CMF_XYZ: np.ndarray = _table([
    0.01431, 0.000396, 0.06785, 0.04351, 0.00121, 0.2074, 0.13438, 0.004, 0.6456,
    0.2839, 0.0116, 1.3856, 0.34828, 0.023, 1.74706, 0.3362, 0.038, 1.77211,
    0.2908, 0.06, 1.6692, 0.19536, 0.09098, 1.28764, 0.09564, 0.13902, 0.81295,
    0.03201, 0.20802, 0.46518, 0.0049, 0.323, 0.272, 0.0093, 0.503, 0.1582,
    0.06327, 0.71, 0.07825, 0.1655, 0.862, 0.04216, 0.2904, 0.954, 0.0203,
    0.43345, 0.99495, 0.00875, 0.5945, 0.995, 0.0039, 0.7621, 0.952, 0.0021,
    0.9163, 0.87, 0.00165, 1.0263, 0.757, 0.0011, 1.0622, 0.631, 0.0008,
    1.0026, 0.503, 0.00034, 0.85445, 0.381, 0.00019, 0.6424, 0.265, 0.00005,
    0.4479, 0.175, 0.00002, 0.2835, 0.107, 0.0, 0.1649, 0.061, 0.0,
    0.0874, 0.032, 0.0, 0.04677, 0.017, 0.0, 0.0227, 0.00821, 0.0,
    0.011359, 0.004102, 0.0,
], shape=(31, 3))
"""CIE 1931 2-degree colour matching functions (x-bar, y-bar, z-bar) at WAVELENGTHS_NM
(CIE 15:2004)."""

D65_SPD: np.ndarray = _table([
    82.7549, 91.486, 93.4318, 86.6823, 104.865, 117.008, 117.812, 114.861, 115.923, 108.811,
    109.354, 107.802, 104.79, 107.689, 104.405, 104.046, 100.0, 96.3342, 95.788, 88.6856,
    90.0062, 89.5991, 87.6987, 83.2886, 83.6992, 80.0268, 80.2146, 82.2778, 78.2842, 69.7213,
    71.6091,
])
"""CIE D65 relative spectral power distribution at WAVELENGTHS_NM, 100 at 560 nm
(CIE 15:2004)."""

MELANOSOME_SCALE: float = 6.6e11
"""Jacques' melanosome absorption: mu_a = MELANOSOME_SCALE * lambda^-MELANOSOME_EXPONENT, in
cm^-1 with lambda in nm (omlc.org/spectra/melanin)."""
MELANOSOME_EXPONENT: float = 3.33
"""Exponent of :data:`MELANOSOME_SCALE`'s power law (omlc.org/spectra/melanin)."""

BLOOD_SATURATION: float = 0.75
"""Oxygen saturation of the skin's blood used for the haemoglobin direction (our choice: between
venous ~0.7 and arterial ~0.97; the answer for 0, 0.75 and 1 is in docs/science.md)."""


def melanosome_absorption(wavelength_nm, *, scale: float = MELANOSOME_SCALE,
                          exponent: float = MELANOSOME_EXPONENT) -> np.ndarray:
    r"""Absorption coefficient of the interior of a melanosome (Jacques).

    Parameters
    ----------
    wavelength_nm : array_like of float
        Wavelength, nm (positive).
    scale, exponent : float, keyword-only
        :math:`\mu_a = \text{scale}\cdot\lambda^{-\text{exponent}}`; default Jacques' 6.6e11
        and 3.33.

    Returns
    -------
    ndarray of float64, cm^-1 (natural-log absorption coefficient).

    Examples
    --------
    >>> round(float(melanosome_absorption(500.0)), 0)
    679.0
    """
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    if np.any(lam <= 0):
        raise ValueError(f"wavelengths must be positive (nm), got {wavelength_nm!r}")
    return scale * lam ** (-exponent)


def blood_extinction(saturation: float = BLOOD_SATURATION) -> np.ndarray:
    """Molar extinction of haemoglobin at oxygen saturation ``saturation`` (0-1), at WAVELENGTHS_NM.

    ``saturation * HBO2_EXTINCTION + (1 - saturation) * HB_EXTINCTION``, cm^-1/(mol/L).
    """
    if not 0.0 <= saturation <= 1.0:
        raise ValueError(f"saturation must lie in [0, 1], got {saturation!r}")
    return saturation * HBO2_EXTINCTION + (1.0 - saturation) * HB_EXTINCTION


def channel_weights(illuminant=D65_SPD) -> np.ndarray:
    r"""Spectral weights of the linear sRGB channels under ``illuminant``, shape (31, 3).

    :math:`w_j(\lambda) = S(\lambda)[M\bar{\mathbf x}(\lambda)]_j`, M =
    :data:`~analyzer.colour.spaces.LINEAR_SRGB_FROM_XYZ`, each column scaled to sum to 1 so a
    perfect white reflector gives (1, 1, 1).  Columns have negative lobes (sRGB's colour
    matching functions do).
    """
    s = np.asarray(illuminant, dtype=np.float64)
    if s.shape != WAVELENGTHS_NM.shape:
        raise ValueError(f"illuminant must have shape {WAVELENGTHS_NM.shape}, got {s.shape}")
    w = s[:, None] * (CMF_XYZ @ LINEAR_SRGB_FROM_XYZ.T)
    return w / w.sum(axis=0)


def _spectrum(values, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(values, dtype=np.float64), WAVELENGTHS_NM.shape)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def linear_srgb_of_reflectance(reflectance) -> np.ndarray:
    """Linear sRGB (white-balanced to D65, white = 1) of a reflectance at WAVELENGTHS_NM.

    ``reflectance``: scalar or shape (31,), in [0, 1].  Returns float64 shape (3,).
    """
    return _spectrum(reflectance, "reflectance") @ channel_weights()


def od_direction(absorbance, reflectance=0.5) -> tuple[float, float, float]:
    r"""Unit (R, G, B) direction of -ln(linear sRGB) for a thin added absorber, at k = 0.

    Parameters
    ----------
    absorbance : array_like, shape (31,)
        The absorber's spectral shape at WAVELENGTHS_NM (decadic absorbance per unit k, any
        scale; e.g. :data:`HBO2_EXTINCTION`).
    reflectance : float or array_like shape (31,)
        Base reflectance :math:`R_0`; a constant cancels (the default 0.5 is "flat").

    Returns
    -------
    tuple of 3 floats, unit length: :math:`d(-\ln c)/dk` normalised.
    """
    eps = _spectrum(absorbance, "absorbance")
    r0 = _spectrum(reflectance, "reflectance")
    w = channel_weights()
    d = math.log(10.0) * ((eps * r0) @ w) / (r0 @ w)
    d = d / np.linalg.norm(d)
    return (float(d[0]), float(d[1]), float(d[2]))


def od_change(absorbance, k: float, reflectance=0.5) -> np.ndarray:
    """Finite change of -ln(linear sRGB), shape (3,), for absorbance ``k * absorbance`` (decadic).

    Not normalised: shows how far the direction bends from :func:`od_direction` for a thick
    absorber (a band that saturates stops adding OD).
    """
    eps = _spectrum(absorbance, "absorbance")
    r0 = _spectrum(reflectance, "reflectance")
    before = linear_srgb_of_reflectance(r0)
    after = linear_srgb_of_reflectance(r0 * 10.0 ** (-k * eps))
    return -np.log(after / before)


def angle_deg(u, v) -> float:
    """Angle between two 3-vectors, degrees in [0, 180]."""
    a, b = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b)))


def ei_per_od(vector, od: float = 0.1) -> float:
    r"""Change of the erythema index for ``od`` of a pigment along the unit ``vector`` (R, G, B).

    EI = 100 log10(R/G) and s = -ln(rgb), so :math:`\Delta EI = 100\,\mathrm{od}\,(v_G - v_R)/\ln 10`
    (``vector`` is normalised first).

    Examples
    --------
    >>> round(ei_per_od(SIGMA_HEMOGLOBIN), 2)
    1.67
    """
    v = np.asarray(vector, dtype=np.float64)
    v = v / np.linalg.norm(v)
    return float(100.0 * od * (v[1] - v[0]) / math.log(10.0))


def reading(vector, od: float = 0.1) -> tuple[float, float]:
    """(c_m, c_h) the analyzer reports for ``od`` of a pigment along the unit ``vector`` (R, G, B).

    The pixel exp(-od * vector) (shading 0) through :func:`~analyzer.measure.chromophores.separate`
    with the default vectors: what a change that really lies along ``vector`` is read as.
    float32 results (rounding about 1e-7).
    """
    v = np.asarray(vector, dtype=np.float64)
    v = v / np.linalg.norm(v)
    c_m, c_h = separate(np.exp(-od * v).reshape(1, 3))
    return (float(c_m[0]), float(c_h[0]))


def skin_like_reflectance(scale: float, melanin: float, blood: float,
                          saturation: float = BLOOD_SATURATION) -> np.ndarray:
    r"""A model skin reflectance: a flat ``scale`` under melanin and blood absorbers.

    :math:`R_0 = \text{scale}\cdot 10^{-(m\,\mu_{mel}(\lambda)/\mu_{mel}(500) +
    b\,\varepsilon_{blood}(\lambda)/\varepsilon_{blood}(560))}`: ``melanin`` and ``blood`` are
    decadic absorbances at 500 nm and 560 nm.  Single pass, no scattering: a stand-in with a
    skin colour, not a measured skin spectrum.  Returns float64 shape (31,).
    """
    mel = melanosome_absorption(WAVELENGTHS_NM)
    mel = mel / float(melanosome_absorption(500.0))
    hb = blood_extinction(saturation)
    hb = hb / hb[WAVELENGTHS_NM == 560][0]
    return scale * 10.0 ** (-(melanin * mel + blood * hb))


def smooth_reflectance_of_colour(target_rgb, iterations: int = 50) -> np.ndarray:
    r"""A smooth reflectance with the linear sRGB colour ``target_rgb`` (under D65), shape (31,).

    :math:`R_0 = \exp(p_0 + p_1 x + p_2 x^2)`, :math:`x = (\lambda - 550)/150`, solved by Newton's
    method on ln(rgb): one smooth, positive spectrum of that colour among many (metamers), used
    as a skin-coloured base with no absorption band of its own.  Its level may exceed 1 at the
    ends of the range; only its shape enters :func:`od_direction`.  Raises ValueError if
    ln(rgb) is not matched to 1e-9.
    """
    target = np.log(np.asarray(target_rgb, dtype=np.float64))
    if target.shape != (3,) or not np.all(np.isfinite(target)):
        raise ValueError(f"target_rgb must be 3 positive numbers, got {target_rgb!r}")
    x = (WAVELENGTHS_NM - 550.0) / 150.0
    basis = np.stack([np.ones_like(x), x, x * x], axis=1)
    w = channel_weights()
    p = np.array([math.log(0.5), 0.0, 0.0])
    for _ in range(iterations):
        r0 = np.exp(basis @ p)
        rgb = r0 @ w
        if np.any(rgb <= 0):
            break
        resid = np.log(rgb) - target
        if np.max(np.abs(resid)) < 1e-9:
            return _table(r0)
        jac = ((r0[:, None] * basis).T @ w).T / rgb[:, None]  # d ln(rgb_j) / d p_i
        p = p - np.linalg.solve(jac, resid)
    raise ValueError(f"no smooth reflectance found for linear sRGB {tuple(np.exp(target))}")


@dataclass(frozen=True)
class VectorCheck:
    """Published-spectrum OD directions against the analyzer's Tsumura vectors.

    Attributes
    ----------
    melanin, hemoglobin : tuple of 3 floats
        Unit (R, G, B) OD directions from Jacques' melanosome and Prahl's haemoglobin at
        ``saturation``.
    melanin_angle_deg, hemoglobin_angle_deg : float
        Angles to :data:`~analyzer.measure.chromophores.SIGMA_MELANIN` / ``SIGMA_HEMOGLOBIN``.
    melanin_ei_per_0_1_od, hemoglobin_ei_per_0_1_od : float
        EI change for +0.1 OD along the computed directions.
    sigma_m_ei_per_0_1_od, sigma_h_ei_per_0_1_od : float
        The same for the analyzer's vectors.
    melanin_read_as, hemoglobin_read_as : tuple of 2 floats
        (c_m, c_h) the analyzer reports for +0.1 OD along each computed direction (the right
        answers would be (0.1, 0) and (0, 0.1)).
    """

    melanin: tuple[float, float, float]
    hemoglobin: tuple[float, float, float]
    melanin_angle_deg: float
    hemoglobin_angle_deg: float
    melanin_ei_per_0_1_od: float
    hemoglobin_ei_per_0_1_od: float
    sigma_m_ei_per_0_1_od: float
    sigma_h_ei_per_0_1_od: float
    melanin_read_as: tuple[float, float]
    hemoglobin_read_as: tuple[float, float]


def check_vectors(reflectance=0.5, saturation: float = BLOOD_SATURATION,
                  exponent: float = MELANOSOME_EXPONENT) -> VectorCheck:
    """Compute the published-spectrum directions and compare them with the analyzer's vectors.

    Examples
    --------
    >>> c = check_vectors()
    >>> c.melanin[2] > c.melanin[1] > c.melanin[0]
    True
    """
    mel = od_direction(melanosome_absorption(WAVELENGTHS_NM, exponent=exponent), reflectance)
    hb = od_direction(blood_extinction(saturation), reflectance)
    return VectorCheck(
        melanin=mel,
        hemoglobin=hb,
        melanin_angle_deg=angle_deg(mel, SIGMA_MELANIN),
        hemoglobin_angle_deg=angle_deg(hb, SIGMA_HEMOGLOBIN),
        melanin_ei_per_0_1_od=ei_per_od(mel),
        hemoglobin_ei_per_0_1_od=ei_per_od(hb),
        sigma_m_ei_per_0_1_od=ei_per_od(SIGMA_MELANIN),
        sigma_h_ei_per_0_1_od=ei_per_od(SIGMA_HEMOGLOBIN),
        melanin_read_as=reading(mel),
        hemoglobin_read_as=reading(hb),
    )
