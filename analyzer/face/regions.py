"""Anatomical skin regions: landmark polygons, skin masks and the physical scale (px/mm).

Each region is a polygon through MediaPipe face-mesh landmarks.  Inside it, a skin mask drops
what is not bare, evenly lit skin: hair, beard, eyebrows, glasses frames, lens glare, specular
highlights and deep shadow.  The scale comes from the iris: its horizontal visible diameter is
about 11.7 mm in adults (``Settings.iris_diameter_mm``).

Region polygons
---------------
Each region's landmark ring is :data:`analyzer.face.mesh.REGION_LANDMARKS` (the table of indices
and their sources is there); the regions are :data:`analyzer.vocab.REGION_KEYS`.

``left`` and ``right`` are the patient's own sides, as in MediaPipe's own naming (its
``FACE_LANDMARKS_LEFT_EYE`` runs through landmark 263).  In a non-mirrored photo the patient's
left cheek appears on the image's right.  Checked on ``skimage.data.astronaut()`` (not mirrored:
the name tag reads left to right): landmark 263 (left eye, outer corner) lies at larger x than
landmark 33 (right eye, outer corner), and the left-cheek polygon lies on the image's right
(``tests/test_face_regions.py``).

The mesh is fixed to image geometry, not anatomy: in a *mirrored* selfie (some Android
cameras save the preview as is) ``left_cheek`` is the patient's right cheek.  A series must
therefore come from photos that are all mirrored or all not.

Skin mask (per region, relative thresholds only)
------------------------------------------------
Everything is computed from linear luminance ``Y`` (:func:`analyzer.colour.spaces.luminance`) in
natural-log units and from the whiteness ``min(R,G,B) / max(R,G,B)``, relative to the region's
own skin reference (a robust median of the bright mode of ``ln Y``).  A common exposure factor
therefore cancels, and no test looks at redness: neither the R/G ratio nor hue is used, so
raising hemoglobin by 0.3 optical density (which darkens ``Y`` by about 16 %, uniformly within a
region) does not move any threshold relative to the skin; redder skin is also less white, so
erythema can only move a pixel away from the specular rule.  Local statistics are normalised
convolutions restricted to the polygon, so what lies outside a region (a different colour or
exposure) cannot leak in.

The reference is the median of ``ln Y`` over the pixels within 0.6-1.6 times the region's 80th
percentile (on skin while at least 20 % of the polygon is skin).  A region whose reference is
more than 40 % below the median of all regions' references (covered by hair or a beard, or in
deep shadow) is judged against that face reference instead, so it is dropped, not accepted.

=================  ==================================================================================
dropped            rule (``ref`` = skin reference of ``ln Y``; scales in mm via px/mm)
=================  ==================================================================================
dark               ``ln Y < ref + ln 0.6``: 40 % darker than the skin (hair, brows, beard, frames,
                   nostrils, deep shadow); erythema of +0.3 OD darkens by 16 %, so it is kept
textured-dark      local s.d. of ``ln Y`` (1 mm window, 0.5 mm detail) > 0.12 and darker than
                   ``ref``: hair strands and stubble over lighter skin
specular           ``Y > 1.6 ref``, or ``Y > 1.25 ref`` and whitish (whiteness above 1.3 times the
                   skin's, or half-way to neutral white): highlights, lens glare.  Only blobs wider
                   than a flake (``Settings.flake_max_mm``) are dropped, so that flakes -- small
                   bright specks, the thing the flaking measure counts -- stay in the mask
=================  ==================================================================================

Clipped pixels are not dropped for being clipped: over-exposure is the quality gate's call
(``overexposed``), and dropping them would make the mask depend on exposure.

The dropped set is widened by about 0.3 mm to remove the mixed pixels at its edges.

Known limits: an untextured cover about as bright as the skin (a plaster, a hand in the same
light) is kept, as is fine fair hair over fair skin where it neither darkens nor textures the
region; a region fully covered by such hair keeps its kept fraction high.

References
----------
Kartynnik et al. (2019), arXiv:1907.06724 (MediaPipe face mesh topology and indices).
Ablavatski et al. (2020), arXiv:2006.11341 (iris landmarks; horizontal iris diameter
11.7 +/- 0.5 mm used as the scale).
Kossack et al. (2019), "Automatic region-based heart rate measurement using remote
photoplethysmography" (forehead and cheeks as the most informative skin regions).
ITU-R BT.709-6 and IEC 61966-2-1 (luminance of linear sRGB, :mod:`analyzer.colour.spaces`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import cv2
import numpy as np

from ..colour.spaces import LUMINANCE_WEIGHTS, encoded_to_linear
from ..settings import DEFAULT, Settings
from .landmarks import FaceLandmarks
from .mesh import FACE_WIDTH, LEFT_IRIS_HORIZONTAL, N_LANDMARKS, REGION_LANDMARKS, RIGHT_IRIS_HORIZONTAL

__all__ = [
    "Region",
    "FaceRegions",
    "iris_diameter_px",
    "locate_regions",
]

_IRIS_AGREEMENT = 1.25  # larger/smaller diameter above which the two eyes disagree

_Y_FLOOR = 1e-4  # linear; keeps ln finite for black pixels (code 0-1 of 255)

_DARK = math.log(0.6)  # ln Y - ref below this: dark (hair, brows, frames, deep shadow)
_TEXTURE = 0.12  # local s.d. of ln Y above this, when darker than skin: hair
_BRIGHT = math.log(1.6)  # ln Y - ref above this: specular
_GLOSSY = math.log(1.25)  # brighter than this and whitish: specular
_WHITER = 1.3  # "whitish": whiteness above this multiple of the skin's (or half-way to white)
_REF_PERCENTILE = 80.0  # percentile of ln Y that lands on skin while >= 20 % of it is skin

_DETAIL_MM = 0.5  # Gaussian sigma of the local mean removed before measuring texture
_WINDOW_MM = 1.0  # Gaussian sigma of the window of the local s.d.
_GROW_MM = 0.3  # dropped pixels are widened by this radius (mixed edge pixels)
_MARGIN_SIGMAS = 3.0  # box margin, in Settings.texture_sigma_mm (filter support)


@dataclass(frozen=True, eq=False)
class Region:
    """One anatomical region over the crop.

    Attributes
    ----------
    name : str
        A key of :data:`analyzer.face.mesh.REGION_LANDMARKS`.
    polygon : ndarray of float32, shape (N, 2)
        Vertices x, y in crop pixels (same convention as ``FaceLandmarks.points``: the crop's
        top-left corner is (0, 0), pixel ``i`` spans ``[i, i+1)``).
    mask : ndarray of bool, shape (h, w)
        Over the whole crop: True for skin pixels kept for measurement.
    polygon_px : int
        Pixels whose centres lie inside the polygon (including any part outside the image).
    kept_fraction : float
        ``mask.sum() / polygon_px`` in [0, 1] (0 when the polygon is empty).
    """

    name: str
    polygon: np.ndarray
    mask: np.ndarray
    polygon_px: int
    kept_fraction: float


@dataclass(frozen=True, eq=False)
class FaceRegions:
    """The regions of one face and the photo's physical scale.

    Attributes
    ----------
    box : tuple of int (x0, y0, x1, y1)
        The crop in the image's pixels (``rgb[y0:y1, x0:x1]``): bounding box of all region
        polygons plus a margin of 3 ``Settings.texture_sigma_mm``, clipped to the image.
    regions : mapping of str to Region
        In :data:`analyzer.vocab.REGION_KEYS` order.
    px_per_mm : float
        Image pixels per millimetre, ``iris_diameter_px / Settings.iris_diameter_mm``.
    iris_diameter_px : float
        Horizontal visible iris diameter in image pixels (:func:`iris_diameter_px`).
    face_width_px : float
        Distance between landmarks 234 and 454 (the face's width at eye level), image pixels.
    """

    box: tuple[int, int, int, int]
    regions: Mapping[str, Region]
    px_per_mm: float
    iris_diameter_px: float
    face_width_px: float


def iris_diameter_px(points: np.ndarray) -> float:
    """Horizontal visible iris diameter in pixels, from both eyes.

    Parameters
    ----------
    points : ndarray, shape (478, 2 or 3)
        Landmarks in pixels (``FaceLandmarks.points``); only x, y are used.

    Returns
    -------
    float
        The mean of the two eyes' horizontal diameters (landmarks 469-471 and 474-476,
        :data:`~analyzer.face.mesh.RIGHT_IRIS_HORIZONTAL` and ``LEFT_IRIS_HORIZONTAL``) when they
        agree within 25 %, else the larger one: a half-closed lid, a glasses rim or a turned head
        only ever make an iris look narrower.

    Raises
    ------
    ValueError
        ``points`` lacks the iris landmarks or gives no positive diameter.

    Examples
    --------
    >>> pts = np.zeros((478, 2))
    >>> pts[469], pts[471] = (108.0, 50.0), (100.0, 50.0)
    >>> pts[474], pts[476] = (190.0, 50.0), (181.0, 50.0)
    >>> iris_diameter_px(pts)
    8.5
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < N_LANDMARKS or pts.shape[1] < 2:
        raise ValueError(f"need ({N_LANDMARKS}, 2+) landmarks with iris points, got shape {pts.shape}")
    pairs = (RIGHT_IRIS_HORIZONTAL, LEFT_IRIS_HORIZONTAL)
    d = [float(np.hypot(*(pts[a, :2] - pts[b, :2]))) for a, b in pairs]
    d = [x for x in d if np.isfinite(x) and x > 0]
    if not d:
        raise ValueError("the iris landmarks give no positive diameter")
    if len(d) == 2 and max(d) <= _IRIS_AGREEMENT * min(d):
        return (d[0] + d[1]) / 2.0
    return max(d)


def locate_regions(
    rgb: np.ndarray, landmarks: FaceLandmarks, *, settings: Settings = DEFAULT
) -> FaceRegions:
    """Region polygons, skin masks and scale for one face.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB, the image the landmarks were found in.
    landmarks : FaceLandmarks
        From :meth:`analyzer.face.landmarks.Landmarker.detect` on ``rgb``.
    settings : Settings, optional
        Uses ``iris_diameter_mm``, ``texture_sigma_mm`` and ``flake_max_mm``.

    Returns
    -------
    FaceRegions
        Masks over the crop ``rgb[y0:y1, x0:x1]`` of ``box``.

    Notes
    -----
    Only the pixels of each region's bounding box are decoded and filtered (a few ms on a
    2016 x 1512 photo).  The mask rules are in the module docstring.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")
    h_img, w_img = rgb.shape[:2]
    pts = np.asarray(landmarks.points, dtype=np.float64)[:, :2]

    iris = iris_diameter_px(pts)
    px_per_mm = iris / settings.iris_diameter_mm
    face_width = float(np.hypot(*(pts[FACE_WIDTH[0]] - pts[FACE_WIDTH[1]])))

    rings = {name: pts[list(idx)] for name, idx in REGION_LANDMARKS.items()}
    allv = np.concatenate(list(rings.values()))
    margin = math.ceil(_MARGIN_SIGMAS * settings.texture_sigma_mm * px_per_mm) + 1
    x0 = int(np.clip(math.floor(allv[:, 0].min()) - margin, 0, w_img))
    y0 = int(np.clip(math.floor(allv[:, 1].min()) - margin, 0, h_img))
    x1 = int(np.clip(math.ceil(allv[:, 0].max()) + margin, x0, w_img))
    y1 = int(np.clip(math.ceil(allv[:, 1].max()) + margin, y0, h_img))
    crop_shape = (y1 - y0, x1 - x0)

    polygons = {name: (ring - (x0, y0)).astype(np.float32) for name, ring in rings.items()}

    # Pass 1: decode each region's bounding box and find its skin reference.
    stats: dict[str, _RegionStats | None] = {}
    polygon_px: dict[str, int] = {}
    for name, polygon in polygons.items():
        inside, bbox, polygon_px[name] = _inside_crop(polygon, crop_shape)
        stat = None
        if bbox is not None and inside.any():
            bx0, by0, bx1, by1 = bbox
            patch = encoded_to_linear(rgb[y0 + by0 : y0 + by1, x0 + bx0 : x0 + bx1])
            stat = _region_stats(patch, inside, bbox)
        stats[name] = stat
    refs = [st.ref for st in stats.values() if st is not None]
    face_ref = float(np.median(refs)) if refs else 0.0

    # Pass 2: the skin masks, relative to each region's reference (anchored to the face's).
    regions: dict[str, Region] = {}
    for name, polygon in polygons.items():
        mask = np.zeros(crop_shape, dtype=bool)
        stat = stats[name]
        skin_px = 0
        if stat is not None:
            bx0, by0, bx1, by1 = stat.bbox
            skin = _skin_mask(stat, face_ref, px_per_mm, settings.flake_max_mm)
            mask[by0:by1, bx0:bx1] = skin
            skin_px = int(np.count_nonzero(skin))  # in the box: a sum over the crop cost 0.4 ms
        n = polygon_px[name]
        kept = float(skin_px / n) if n else 0.0
        regions[name] = Region(name, polygon, mask, n, kept)

    return FaceRegions(
        box=(x0, y0, x1, y1),
        regions=MappingProxyType(regions),
        px_per_mm=float(px_per_mm),
        iris_diameter_px=float(iris),
        face_width_px=face_width,
    )


# --- private helpers --------------------------------------------------------------------------


def _inside_crop(
    polygon: np.ndarray, crop_shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int] | None, int]:
    """Rasterise a polygon (crop coordinates) over its bounding box.

    Returns
    -------
    inside : ndarray of bool, shape (by1-by0, bx1-bx0)
        The polygon's pixels within the crop's part of its bounding box.
    bbox : tuple of int (bx0, by0, bx1, by1) or None
        That box in crop pixels; None when the polygon lies wholly outside the crop.
    count : int
        Pixels of the whole polygon, including any part outside the image, so that a region
        cut off by the frame reads as partly not visible.
    """
    h, w = crop_shape
    fx0 = math.floor(float(polygon[:, 0].min()))
    fy0 = math.floor(float(polygon[:, 1].min()))
    fx1 = math.ceil(float(polygon[:, 0].max())) + 1
    fy1 = math.ceil(float(polygon[:, 1].max())) + 1
    full = _rasterise(polygon - (fx0, fy0), (fy1 - fy0, fx1 - fx0))
    count = int(np.count_nonzero(full))
    bx0, by0, bx1, by1 = max(0, fx0), max(0, fy0), min(w, fx1), min(h, fy1)
    if bx1 <= bx0 or by1 <= by0:
        return np.zeros((0, 0), dtype=bool), None, count
    inside = full[by0 - fy0 : by1 - fy0, bx0 - fx0 : bx1 - fx0]
    return inside, (bx0, by0, bx1, by1), count


def _rasterise(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask of the pixels whose centres lie inside ``polygon`` (edge-origin coordinates),
    at 1/16-pixel vertex precision."""
    canvas = np.zeros(shape, dtype=np.uint8)
    fixed = np.round((polygon.astype(np.float64) - 0.5) * 16.0).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.view(bool)


def _masked_blur(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of ``values`` over the pixels where ``weight`` is 1 (normalised
    convolution); pixels with no weight nearby get 0."""
    num = cv2.GaussianBlur(values * weight, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return num / np.maximum(den, 1e-6)


@dataclass(frozen=True, eq=False)
class _RegionStats:
    """Per-pixel features of one region's bounding box and its skin reference."""

    bbox: tuple[int, int, int, int]  # in crop pixels
    inside: np.ndarray  # (h, w) bool: the polygon
    ln_y: np.ndarray  # (h, w) float32: ln of linear luminance
    whiteness: np.ndarray  # (h, w) float32: min/max channel, [0, 1]
    ref: float  # skin reference of ln_y
    white_ref: float  # skin reference of whiteness


def _region_stats(
    linear: np.ndarray, inside: np.ndarray, bbox: tuple[int, int, int, int]
) -> _RegionStats:
    """Features of one region and the robust median of its bright (skin) mode.

    Parameters
    ----------
    linear : ndarray of float32, shape (h, w, 3)
        Linear sRGB of the region's bounding box, [0, 1].
    inside : ndarray of bool, shape (h, w)
        The polygon; must hold at least one pixel.
    bbox : tuple of int
        Where the box lies in the crop.

    Notes
    -----
    The reference is the median of ``ln Y`` over the pixels within [0.6, 1.6] times the
    80th percentile: the percentile lands on skin while at least 20 % of the polygon is skin,
    and the window leaves out hair and highlights.
    """
    r, g, b = linear[..., 0], linear[..., 1], linear[..., 2]
    ln_y = np.log(np.maximum(linear @ LUMINANCE_WEIGHTS, _Y_FLOOR))
    # elementwise min/max: numpy's reductions over a length-3 last axis are ~10x slower
    whiteness = np.minimum(np.minimum(r, g), b) / np.maximum(np.maximum(np.maximum(r, g), b), _Y_FLOOR)
    vals = ln_y[inside]
    top = float(np.percentile(vals, _REF_PERCENTILE))
    in_band = (vals > top + _DARK) & (vals < top + _BRIGHT)
    return _RegionStats(
        bbox=bbox,
        inside=inside,
        ln_y=ln_y,
        whiteness=whiteness,
        ref=float(np.median(vals[in_band])),
        white_ref=float(np.median(whiteness[inside][in_band])),
    )


def _larger_than(mask: np.ndarray, area_px: float) -> np.ndarray:
    """The 8-connected components of ``mask`` with more than ``area_px`` pixels."""
    if not mask.any():
        return mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] > area_px
    big[0] = False  # background
    return big[labels]


def _skin_mask(
    stat: _RegionStats, face_ref: float, px_per_mm: float, flake_max_mm: float
) -> np.ndarray:
    """Skin pixels of one region (rules in the module docstring).

    Parameters
    ----------
    stat : _RegionStats
        The region's features.
    face_ref : float
        Median of the regions' references (``ln Y``).  A region whose own reference is more
        than ``ln 0.6`` below it is mostly covered (hair, beard) or in deep shadow, and is
        judged against the face's reference instead.
    px_per_mm : float
        Scale, for the filter sizes.
    flake_max_mm : float
        Bright or whitish blobs up to this diameter are kept (they may be flakes).

    Returns
    -------
    ndarray of bool, shape of ``stat.inside``
    """
    ref = stat.ref if stat.ref >= face_ref + _DARK else face_ref
    rel = stat.ln_y - ref
    inside = stat.inside

    dark = rel < _DARK
    weight = (inside & ~dark).astype(np.float32)
    detail = max(0.7, _DETAIL_MM * px_per_mm)
    window = max(1.0, _WINDOW_MM * px_per_mm)
    local_mean = _masked_blur(stat.ln_y, weight, detail)
    texture = np.sqrt(np.maximum(_masked_blur((stat.ln_y - local_mean) ** 2, weight, window), 0.0))
    dark |= (texture > _TEXTURE) & (rel < 0.0)

    white_ref = stat.white_ref
    whitish = stat.whiteness > min(_WHITER * white_ref, white_ref + 0.5 * (1.0 - white_ref))
    specular = inside & ((rel > _BRIGHT) | ((rel > _GLOSSY) & whitish))
    drop = dark | _larger_than(specular, math.pi / 4.0 * (flake_max_mm * px_per_mm) ** 2)

    grow = round(_GROW_MM * px_per_mm)
    if grow >= 1 and drop.any():
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        drop = cv2.dilate(drop.view(np.uint8), disk).view(bool)
    return inside & ~drop
