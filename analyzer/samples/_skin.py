"""Skin changes of healing, drawn as images: blotchy pigment fields, dry roughness and flakes.

Everything is in physical units: pigment in optical density (natural log, Tsumura vectors; see
:mod:`analyzer.measure.chromophores`), sizes in mm converted with the frame's px/mm.

=====================  ============================================================================
change                 model (our choices unless cited)
=====================  ============================================================================
redness pattern        ``1 + 0.15 z``, ``z`` a unit-variance Gaussian random field (white noise
                       low-passed at sigma 5 mm plus, weaker, 2 mm), clipped to [0.6, 1.4] and
                       rescaled to mean 1 over the skin: blotchy erythema whose face mean is the
                       day's dose.  Fixed per series (its seed); each day multiplies it by
                       ``1 + 0.04 z_day`` (sigma 4 mm) and rescales to mean 1 again
pigment pattern        ``cheeks x (1 + 0.35 z)`` (sigma 4 mm and 1.5 mm), clipped to [0.2, 3],
                       mean 1 over the skin: post-inflammatory hyperpigmentation is patchy and
                       gathers on the cheeks
fine roughness         multiplicative luminance ``exp(r)``: intact micro-relief, a Gaussian field
                       (white noise low-passed at sigma 0.2 mm) of 1.2 %, plus dryness furrows
                       ``(1 - g^2) / sqrt(2)`` (dark-tailed) of 2.0 % x dryness (dry and peeling
                       skin has higher fine-scale roughness, docs/science.md#dryness-and-peeling)
flakes                 whitish soft-edged ellipses, equivalent diameter log-uniform in 0.3-1.5 mm,
                       aspect 1-1.8, 15-40 % brighter than the skin under them and 30-60 % of the
                       way to neutral (peeling appears as small bright specks of 0.3-2 mm,
                       docs/science.md#dryness-and-peeling), placed uniformly over the flake zone at
                       the day's density
=====================  ============================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..colour.spaces import BT709_LUMINANCE_WEIGHTS
from ._bases import DEFAULT_BASE
from ._face import base_face

__all__ = [
    "BASE_ROUGHNESS_PERCENT",
    "DRY_ROUGHNESS_PERCENT",
    "Flake",
    "apply_flakes",
    "blotch_pattern",
    "fine_roughness",
    "flake_layers",
    "pigment_pattern",
    "redness_pattern",
    "sample_flakes",
    "unit_random_field",
    "vary_pattern",
]

BASE_ROUGHNESS_PERCENT = 1.2
"""% of luminance: synthetic micro-relief of intact skin (the 6x upscale has none of its own)."""

DRY_ROUGHNESS_PERCENT = 2.0
"""% of luminance added at dryness 1 (days 2-3)."""

_ROUGHNESS_SIGMA_MM = 0.2
_REDNESS_SCALES = ((5.0, 0.8), (2.0, 0.6))  # (sigma mm, weight) of the redness field
_REDNESS_AMPLITUDE = 0.15
_REDNESS_RANGE = (0.6, 1.4)
_DAY_SIGMA_MM = 4.0
_DAY_AMPLITUDE = 0.04
_PIGMENT_SCALES = ((4.0, 0.8), (1.5, 0.6))
_PIGMENT_AMPLITUDE = 0.35
_PIGMENT_RANGE = (0.2, 3.0)

_FLAKE_DIAMETER_MM = (0.3, 1.5)
_FLAKE_ASPECT = (1.0, 1.8)
_FLAKE_LIFT = (0.15, 0.4)
_FLAKE_WHITEN = (0.3, 0.6)
_FLAKE_EDGE_MM = 0.1
"""mm.  Width of a flake's soft rim (alpha from 0 to 1 over about twice this)."""


# ------------------------------------------------------------------------------------------
# Smooth random fields (template frame)
# ------------------------------------------------------------------------------------------


def unit_random_field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> np.ndarray:
    """White Gaussian noise low-passed by a Gaussian of ``sigma_px``, rescaled to std 1.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (int, int)
    sigma_px : float
        Correlation scale in pixels (> 0).

    Returns
    -------
    ndarray of float32, shape ``shape``: mean about 0, standard deviation exactly 1.
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    field = cv2.GaussianBlur(white, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT_101)
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def _weighted_mean(values: np.ndarray, weight: np.ndarray) -> float:
    return float((values * weight).sum() / max(float(weight.sum()), 1e-12))


def blotch_pattern(
    rng: np.random.Generator,
    weight: np.ndarray,
    px_per_mm: float,
    scales: tuple[tuple[float, float], ...],
    amplitude: float,
    limits: tuple[float, float],
    base: np.ndarray | None = None,
) -> np.ndarray:
    """``base x (1 + amplitude z)`` clipped to ``limits`` and rescaled to mean 1 over ``weight``.

    Parameters
    ----------
    rng : numpy.random.Generator
    weight : ndarray of float32, shape (h, w)
        Where the mean is taken (the skin mask, soft weights allowed).
    px_per_mm : float
        Pixels per mm of the grid.
    scales : tuple of (sigma_mm, weight)
        Component fields; their weighted sum is rescaled to unit variance.
    amplitude : float
        Standard deviation of the pattern before clipping.
    limits : (float, float)
        Clip range before the rescaling to mean 1.
    base : ndarray, shape (h, w), optional
        A smooth multiplier (e.g. cheek emphasis); default 1.

    Returns
    -------
    ndarray of float32, shape (h, w): mean 1 over ``weight``.
    """
    z = sum(k * unit_random_field(rng, weight.shape, s * px_per_mm) for s, k in scales)
    z /= max(float(z.std()), 1e-12)
    p = np.clip(1.0 + amplitude * z, *limits)
    if base is not None:
        p = p * base
    return (p / _weighted_mean(p, weight)).astype(np.float32)


@lru_cache(maxsize=8)
def redness_pattern(seed: int, face: str = DEFAULT_BASE) -> np.ndarray:
    """The series' fixed redness pattern, template frame of base ``face``, float32 (640, 480),
    read-only.

    Mean 1 over the skin mask (soft weights), values within about 0.6-1.4 (see the module
    table).  Deterministic in ``seed`` (its own stream, ``default_rng([seed, 1])``).
    """
    base = base_face(face)
    rng = np.random.default_rng([seed, 1])
    p = blotch_pattern(rng, base.template["skin"], base.template_px_per_mm, _REDNESS_SCALES,
                       _REDNESS_AMPLITUDE, _REDNESS_RANGE)  # fmt: skip
    p.setflags(write=False)
    return p


@lru_cache(maxsize=8)
def pigment_pattern(seed: int, face: str = DEFAULT_BASE) -> np.ndarray:
    """The series' fixed pigment (melanin) pattern, template frame of base ``face``, float32,
    read-only.

    Mean 1 over the skin mask, about 0.3-2.5, highest on the cheeks; stream
    ``default_rng([seed, 2])``.
    """
    b = base_face(face)
    rng = np.random.default_rng([seed, 2])
    p = blotch_pattern(rng, b.template["skin"], b.template_px_per_mm, _PIGMENT_SCALES,
                       _PIGMENT_AMPLITUDE, _PIGMENT_RANGE, base=b.template["cheeks"])  # fmt: skip
    p.setflags(write=False)
    return p


def vary_pattern(
    rng: np.random.Generator, pattern: np.ndarray, weight: np.ndarray, px_per_mm: float
) -> np.ndarray:
    """A day's version of a series pattern: ``pattern x (1 + 0.04 z_day)``, mean 1 over ``weight``."""
    z = unit_random_field(rng, pattern.shape, _DAY_SIGMA_MM * px_per_mm)
    p = pattern * (1.0 + _DAY_AMPLITUDE * z)
    return (p / _weighted_mean(p, weight)).astype(np.float32)


# ------------------------------------------------------------------------------------------
# Fine roughness (photo frame)
# ------------------------------------------------------------------------------------------


def fine_roughness(
    rng: np.random.Generator,
    shape: tuple[int, int],
    px_per_mm: float,
    base_percent: float,
    dry_percent: float,
) -> np.ndarray:
    """Log-luminance micro-relief at about 0.2-0.5 mm: symmetric bumps plus dry furrows.

    Parameters
    ----------
    rng : numpy.random.Generator
        Two fields are always drawn (so the stream does not depend on the amounts).
    shape : (int, int)
        Photo (height, width).
    px_per_mm : float
        Photo pixels per mm on the face.
    base_percent, dry_percent : float
        Standard deviations (percent of luminance, >= 0) of the intact-skin relief (a Gaussian
        field ``g1``) and of the dryness relief ``(1 - g2^2) / sqrt(2)`` (unit variance, mean 0,
        at most +0.71 but with a long dark tail: fine furrows and cracks, not bright specks, so
        dryness raises the texture without making flakes).

    Returns
    -------
    ndarray of float32, shape ``shape``: ln-luminance offsets (multiply linear RGB by ``exp``).
    """
    if base_percent < 0 or dry_percent < 0:
        raise ValueError(f"roughness must be >= 0 %, got {base_percent}, {dry_percent}")
    sigma = max(_ROUGHNESS_SIGMA_MM * px_per_mm, 0.3)
    g1 = unit_random_field(rng, shape, sigma)
    g2 = unit_random_field(rng, shape, sigma)
    furrows = (1.0 - g2 * g2) * np.float32(1.0 / math.sqrt(2.0))
    return g1 * np.float32(base_percent / 100.0) + furrows * np.float32(dry_percent / 100.0)


# ------------------------------------------------------------------------------------------
# Flakes (photo frame)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flake:
    """One flake: a soft, whitish ellipse.

    Attributes
    ----------
    x, y : float
        Centre, photo pixels (continuous coordinates).
    semi_major_px, semi_minor_px : float
        Semi-axes, pixels.
    angle_rad : float
        Orientation of the major axis.
    lift : float
        Relative brightening at full coverage (0.2 = 20 % brighter).
    whiten : float
        Fraction of the way to neutral grey of the same luminance, in [0, 1].
    """

    x: float
    y: float
    semi_major_px: float
    semi_minor_px: float
    angle_rad: float
    lift: float
    whiten: float

    @property
    def diameter_px(self) -> float:
        """Equivalent diameter 2 sqrt(a b), pixels."""
        return 2.0 * math.sqrt(self.semi_major_px * self.semi_minor_px)


def sample_flakes(
    rng: np.random.Generator, zone: np.ndarray, px_per_mm: float, per_cm2: float
) -> tuple[tuple[Flake, ...], float]:
    """Flakes placed uniformly over ``zone`` at ``per_cm2``.

    Parameters
    ----------
    rng : numpy.random.Generator
    zone : ndarray of bool, shape (h, w)
        Where flakes may lie (photo frame).
    px_per_mm : float
        Photo pixels per mm.
    per_cm2 : float
        Density, flakes per cm^2 of zone (>= 0).  The count is ``round(per_cm2 x area)``.

    Returns
    -------
    flakes : tuple of Flake
    area_cm2 : float
        The zone's area.
    """
    if per_cm2 < 0:
        raise ValueError(f"per_cm2 must be >= 0, got {per_cm2}")
    ys, xs = np.nonzero(zone)
    area_cm2 = len(xs) / px_per_mm**2 / 100.0
    n = round(per_cm2 * area_cm2)
    if n == 0 or len(xs) == 0:
        return (), area_cm2
    pick = rng.integers(0, len(xs), size=n)
    jitter = rng.random((n, 2))
    lo, hi = _FLAKE_DIAMETER_MM
    diam_mm = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    aspect = rng.uniform(*_FLAKE_ASPECT, n)
    angle = rng.uniform(0.0, math.pi, n)
    lift = rng.uniform(*_FLAKE_LIFT, n)
    whiten = rng.uniform(*_FLAKE_WHITEN, n)
    flakes = tuple(
        Flake(
            x=float(xs[i] + jitter[k, 0]),
            y=float(ys[i] + jitter[k, 1]),
            semi_major_px=float(diam_mm[k] / 2 * math.sqrt(aspect[k]) * px_per_mm),
            semi_minor_px=float(diam_mm[k] / 2 / math.sqrt(aspect[k]) * px_per_mm),
            angle_rad=float(angle[k]),
            lift=float(lift[k]),
            whiten=float(whiten[k]),
        )
        for k, i in enumerate(pick)
    )
    return flakes, area_cm2


def _flake_alpha(f: Flake, xx: np.ndarray, yy: np.ndarray, edge_px: float) -> np.ndarray:
    """Coverage in [0, 1] of one flake at pixel centres xx, yy (soft rim of ``edge_px``)."""
    c, s = math.cos(f.angle_rad), math.sin(f.angle_rad)
    u = (xx - f.x) * c + (yy - f.y) * s
    v = -(xx - f.x) * s + (yy - f.y) * c
    rho = np.sqrt((u / f.semi_major_px) ** 2 + (v / f.semi_minor_px) ** 2)
    inside_px = (1.0 - rho) * f.semi_minor_px  # approximate distance to the rim, px
    return np.clip(0.5 + inside_px / (2.0 * edge_px), 0.0, 1.0)


def flake_layers(
    shape: tuple[int, int], flakes: tuple[Flake, ...], px_per_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Brightening and whitening maps of a set of flakes (the strongest flake wins a pixel).

    Returns
    -------
    lift, whiten : ndarray of float32, shape ``shape``
        Per-pixel ``alpha x lift`` and ``alpha x whiten`` (0 where there is no flake).
    """
    lift = np.zeros(shape, np.float32)
    whiten = np.zeros(shape, np.float32)
    edge = max(_FLAKE_EDGE_MM * px_per_mm, 0.25)
    for f in flakes:
        r = f.semi_major_px + 2.0 * edge + 1.0
        x0, x1 = max(int(f.x - r), 0), min(int(f.x + r) + 2, shape[1])
        y0, y1 = max(int(f.y - r), 0), min(int(f.y + r) + 2, shape[0])
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
        a = _flake_alpha(f, xx, yy, edge).astype(np.float32)
        np.maximum(lift[y0:y1, x0:x1], a * f.lift, out=lift[y0:y1, x0:x1])
        np.maximum(whiten[y0:y1, x0:x1], a * f.whiten, out=whiten[y0:y1, x0:x1])
    return lift, whiten


def apply_flakes(linear: np.ndarray, lift: np.ndarray, whiten: np.ndarray) -> np.ndarray:
    """Whiten then brighten linear RGB: ``(rgb (1 - w) + w Y) (1 + l)``, Y the luminance
    (:data:`analyzer.colour.spaces.BT709_LUMINANCE_WEIGHTS`).

    Parameters
    ----------
    linear : ndarray of float32, shape (h, w, 3)
    lift, whiten : ndarray of float32, shape (h, w)

    Returns
    -------
    ndarray of float32, shape (h, w, 3) (a new array).
    """
    y = linear @ BT709_LUMINANCE_WEIGHTS
    w = whiten[..., None]
    out = linear * (1.0 - w) + w * y[..., None]
    return out * (1.0 + lift[..., None])
