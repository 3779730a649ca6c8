"""The base photo, its frame geometry, and the masks built once from its landmarks.

Base photo
----------
One of :data:`analyzer.samples.BASES` (:mod:`analyzer.samples._bases`; every setting tuned to a
portrait lives in its record).  The default, NASA's portrait of astronaut Eileen Collins
(``skimage.data.astronaut()``, 512 x 512, sRGB, not mirrored), has a face about 90 px wide,
0.73 px/mm by the iris (horizontal visible iris diameter 11.7 mm).  The phone frame shows the
window ``field_of_view`` of it (portrait 3:4) and is resampled in **linear light** with a
Lanczos-4 kernel (8 x 8 taps, OpenCV ``INTER_LANCZOS4``) to the requested size: at the default
1440 x 1920 that is a 6x upscale, about 4.4 px/mm (Grace Hopper's: 3.2x, also 4.4 px/mm;
Luis Pedro Coelho's: 5.1x, 7.0 px/mm, a close selfie).
Upscaling adds no detail: every texture finer than one source pixel is synthetic.

Coordinates
-----------
Points are continuous pixel coordinates (pixel ``i`` spans ``[i, i+1)``, as
``FaceLandmarks.points``).  Three frames are used:

==========  ====================================================================================
frame       meaning
==========  ====================================================================================
source      the base photo (the 512 x 512 astronaut by default)
template    the field of view at ``template_scale`` px per source px (480 x 640 on the astronaut,
            450 x 600 on Hopper), where the masks and the smooth pigment fields are built once
            (0.69 and 0.71 mm per template pixel)
photo       the output frame of one photo, pose included: ``photo = P . B . source``, with ``B``
            crop-and-scale to the frame and ``P`` the small similarity (shift, scale, roll) of
            that photo about the face centre
==========  ====================================================================================

Masks (template frame, float32 in [0, 1], read-only)
----------------------------------------------------
==============  ===================================================================================
mask            construction
==============  ===================================================================================
skin            face oval (MediaPipe FACE_OVAL) eroded 1.5 mm, minus eyes (dilated 2 mm), brows
                (hull, dilated 1.5 mm), lips (outer contour, dilated 1.5 mm), nostrils (hull,
                dilated 1 mm) and hair/deep shadow (linear luminance below 0.4 x the skin median,
                dilated 1 mm; 0.6 cut the shaded side of this face); feathered: eroded by 1 sigma
                and blurred, sigma = 0.75 mm (0.16 on the edge, 0.98 at 2.3 mm inside)
skin_core       skin >= 0.98 (feather complete)
flake_zone      skin >= 0.5 minus the whole nose (hull of MediaPipe's nose contour, dilated
                2 mm): cheeks, forehead, chin, upper lip
cheeks          1 + 1.5 x Gaussian bumps (sigma 0.2 face widths) on the two cheek regions'
                centroids: where post-inflammatory pigment gathers most in the darkening course
wall            1 - person, feathered 1.5 mm outwards, 0 on the skin guard (the skin mask
                dilated 4 mm, plus the neck ellipse within the person)
clothes         person and torso polygon, minus the head ellipse and the neck, feathered
                1.5 mm outwards, 0 on the guard
==============  ===================================================================================

The person is seeded by a geometric shape in units of the face width ``w`` (landmarks
234-454) and height ``h`` (landmarks 10-152), tuned by eye to each portrait and kept in its
record (on the astronaut: a head-and-hair ellipse reaching 0.57 h above landmark 10, a neck
ellipse, and a torso polygon for the helmet ring and suit), then refined once by GrabCut (the
geometric shape alone left a halo of the old wall around the hair).

References
----------
Rother, Kolmogorov & Blake, "GrabCut: interactive foreground extraction using iterated graph
cuts", ACM Trans. Graph. 23(3):309-314 (SIGGRAPH 2004) (OpenCV ``grabCut``).
Kartynnik et al. (2019), arXiv:1907.06724 (face mesh indices; the face oval, eye, brow, lip and
nose contours of :mod:`analyzer.face.mesh`).  Ablavatski et al. (2020),
arXiv:2006.11341 (iris landmarks).  Duchon (1979) / OpenCV documentation for the Lanczos kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

import cv2
import numpy as np

from ..colour.spaces import BT709_LUMINANCE_WEIGHTS, encoded_to_linear, linear_to_srgb8
from ..face.mesh import (
    FACE_HEIGHT,
    FACE_OVAL,
    FACE_WIDTH,
    LEFT_BROW,
    LEFT_EYE,
    LIPS_OUTER,
    NOSE,
    NOSTRILS,
    REGION_LANDMARKS,
    RIGHT_BROW,
    RIGHT_EYE,
)
from ..face.regions import iris_diameter_px
from ..settings import DEFAULT
from ._bases import BASES, DEFAULT_BASE, BaseSource, base_source

__all__ = [
    "BASE_PHOTO",
    "DEFAULT_SIZE",
    "FIELD_OF_VIEW",
    "IDENTITY_POSE",
    "TEMPLATE_SCALE",
    "BaseFace",
    "Pose",
    "base_face",
    "fill_polygon",
    "frame_scale",
    "source_linear",
    "source_to_photo",
    "template_to_photo",
    "transform_points",
    "warp",
]

BASE_PHOTO: Mapping[str, object] = BASES[DEFAULT_BASE].provenance
"""Provenance of the default base photo, the astronaut (recorded in every ground-truth file)."""

FIELD_OF_VIEW: tuple[float, float, float, float] = BASES[DEFAULT_BASE].field_of_view
"""(x0, y0, width, height) in source pixels: the 3:4 window the phone frame shows (face centre
at x 226, about 40 % down the frame; hair, helmet ring and suit below)."""

DEFAULT_SIZE: tuple[int, int] = (1440, 1920)
"""(width, height) px of a photo: 6x the field of view, about 4.4 px/mm on the face."""

TEMPLATE_SCALE = BASES[DEFAULT_BASE].template_scale
"""Template pixels per source pixel of the astronaut (masks and pigment fields; 0.69 mm per
template pixel).  Each base face has its own (:attr:`BaseSource.template_scale`)."""

_ASPECT_TOLERANCE_PX = 2.0
"""px.  A requested size may differ from exact 3:4 by this much in height."""

# Mask sizes, mm (our choices, see the module table).
_OVAL_ERODE_MM = 1.5
_EYE_GROW_MM = 2.0
_BROW_GROW_MM = 1.5
_LIP_GROW_MM = 1.5
_NOSTRIL_GROW_MM = 1.0
_NOSE_GROW_MM = 2.0
_DARK_GROW_MM = 1.0
_FEATHER_MM = 0.75
_GUARD_MM = 4.0
_PERSON_FEATHER_MM = 1.5
_CORE_LEVEL = 0.98
_GRABCUT_BAND_MM = 6.0
_GRABCUT_ITERATIONS = 5
_SURE_TORSO_H = 0.9  # face heights below the chin: sure clothes from here down
_CHEEK_SIGMA_W = 0.2  # face widths
_CHEEK_BOOST = 1.5


@dataclass(frozen=True)
class Pose:
    """A photo's small framing change, a similarity about the face centre.

    Attributes
    ----------
    shift_x, shift_y : float
        Translation as a fraction of the frame width / height (about +/-0.02).
    scale : float
        Zoom factor (about 0.97-1.03).
    rotation_deg : float
        In-plane rotation, degrees, counter-clockwise in the image (about +/-2).
    """

    shift_x: float = 0.0
    shift_y: float = 0.0
    scale: float = 1.0
    rotation_deg: float = 0.0


IDENTITY_POSE = Pose()


@dataclass(frozen=True, eq=False)
class BaseFace:
    """The landmarks of the base photo and the masks built from them (all read-only).

    Attributes
    ----------
    points : ndarray of float64, shape (478, 2)
        MediaPipe landmarks in source pixels (detected once on the default-size frame).
    px_per_mm_source : float
        Source pixels per mm (iris diameter / 11.7 mm).
    face_centre : ndarray of float64, shape (2,)
        Mean of the face-oval landmarks, source pixels (the pose pivot).
    template : Mapping[str, ndarray]
        Template-frame masks (float32 in [0, 1]; ``cheeks`` in [1, 2.5]): skin, skin_core,
        flake_zone, cheeks, wall, clothes (see the module table).
    source : BaseSource
        The base face's record (:data:`analyzer.samples.BASES`).
    """

    points: np.ndarray
    px_per_mm_source: float
    face_centre: np.ndarray
    template: Mapping[str, np.ndarray]
    source: BaseSource = BASES[DEFAULT_BASE]

    def px_per_mm(self, size: tuple[int, int], pose: Pose = IDENTITY_POSE) -> float:
        """Photo pixels per mm on the face at ``size`` and ``pose``."""
        return self.px_per_mm_source * frame_scale(size, self.source.field_of_view) * pose.scale

    @property
    def template_px_per_mm(self) -> float:
        """Template pixels per mm on the face."""
        return self.px_per_mm_source * self.source.template_scale

    def source_to_photo(self, size: tuple[int, int], pose: Pose) -> np.ndarray:
        """3 x 3 affine from this face's source pixels to photo pixels."""
        return source_to_photo(size, pose, self.face_centre, self.source.field_of_view)

    def template_to_photo(self, size: tuple[int, int], pose: Pose) -> np.ndarray:
        """3 x 3 affine from this face's template pixels to photo pixels."""
        return template_to_photo(size, pose, self.face_centre, self.source.field_of_view,
                                 self.source.template_scale)  # fmt: skip


# ------------------------------------------------------------------------------------------
# Geometry
# ------------------------------------------------------------------------------------------


def frame_scale(size: tuple[int, int], field_of_view: tuple[float, ...] = FIELD_OF_VIEW) -> float:
    """Photo pixels per source pixel for a frame of ``size`` = (width, height), 3:4 portrait,
    showing ``field_of_view`` (default the astronaut's).

    Raises
    ------
    ValueError
        ``size`` is not two positive integers in a 3:4 (portrait) ratio.

    Examples
    --------
    >>> frame_scale((1440, 1920)), frame_scale((600, 800))
    (6.0, 2.5)
    """
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if w < 120 or h < 160:
        raise ValueError(f"size must be at least 120 x 160 px, got {w} x {h}")
    if abs(h - w * 4.0 / 3.0) > _ASPECT_TOLERANCE_PX:
        raise ValueError(f"size must be portrait 3:4 (e.g. 1440x1920), got {w}x{h}")
    return w / field_of_view[2]


def _affine(a: np.ndarray, t) -> np.ndarray:
    """A 3 x 3 homogeneous matrix from a 2 x 2 linear part and a translation."""
    m = np.eye(3)
    m[:2, :2] = a
    m[:2, 2] = t
    return m


def _pose_matrix(pose: Pose, size: tuple[int, int], pivot: np.ndarray) -> np.ndarray:
    """3 x 3 similarity of ``pose`` in photo pixels, about ``pivot`` (photo pixels)."""
    th = math.radians(pose.rotation_deg)
    # Counter-clockwise on screen (y down) is a negative angle in the maths convention.
    rot = pose.scale * np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
    shift = np.array([pose.shift_x * size[0], pose.shift_y * size[1]])
    return _affine(rot, pivot + shift - rot @ pivot)


def _source_to_frame(size: tuple[int, int], field_of_view: tuple[float, ...] = FIELD_OF_VIEW) -> np.ndarray:
    """3 x 3: source pixels to the unposed photo frame (crop and scale)."""
    k = frame_scale(size, field_of_view)
    x0, y0 = field_of_view[:2]
    return _affine(k * np.eye(2), (-k * x0, -k * y0))


def source_to_photo(
    size: tuple[int, int],
    pose: Pose,
    face_centre: np.ndarray,
    field_of_view: tuple[float, ...] = FIELD_OF_VIEW,
) -> np.ndarray:
    """3 x 3 homogeneous affine from source to photo pixels (continuous coordinates).

    Parameters
    ----------
    size : (int, int)
        Photo (width, height), 3:4.
    pose : Pose
    face_centre : ndarray, shape (2,)
        Pivot of the pose in source pixels.
    field_of_view : (x0, y0, width, height)
        Source window of the frame (default the astronaut's).
    """
    b = _source_to_frame(size, field_of_view)
    pivot = (b @ np.append(face_centre, 1.0))[:2]
    return _pose_matrix(pose, size, pivot) @ b


def template_to_photo(
    size: tuple[int, int],
    pose: Pose,
    face_centre: np.ndarray,
    field_of_view: tuple[float, ...] = FIELD_OF_VIEW,
    template_scale: float = TEMPLATE_SCALE,
) -> np.ndarray:
    """3 x 3 homogeneous affine from template to photo pixels (defaults: the astronaut's)."""
    x0, y0 = field_of_view[:2]
    template_to_source = _affine(np.eye(2) / template_scale, (x0, y0))
    return source_to_photo(size, pose, face_centre, field_of_view) @ template_to_source


def warp(
    image: np.ndarray,
    matrix: np.ndarray,
    size: tuple[int, int],
    *,
    interpolation: int = cv2.INTER_LINEAR,
    border: int = cv2.BORDER_REFLECT_101,
) -> np.ndarray:
    """Resample ``image`` into a ``size`` = (w, h) frame by a continuous-coordinate affine.

    Parameters
    ----------
    image : ndarray of float32, shape (h0, w0) or (h0, w0, 3)
    matrix : ndarray, shape (3, 3)
        Maps input to output continuous pixel coordinates (pixel ``i`` spans ``[i, i+1)``).
    size : (int, int)
        Output (width, height).
    interpolation, border : int
        OpenCV flags.

    Returns
    -------
    ndarray of float32, shape (h, w) or (h, w, 3)
    """
    # OpenCV puts pixel centres at integers: shift by half a pixel on both sides.
    to_cv = _affine(np.eye(2), (-0.5, -0.5))
    from_cv = _affine(np.eye(2), (0.5, 0.5))
    m = (to_cv @ matrix @ from_cv)[:2]
    return cv2.warpAffine(
        np.ascontiguousarray(image, dtype=np.float32), m, (int(size[0]), int(size[1])),
        flags=interpolation, borderMode=border,
    )  # fmt: skip


def transform_points(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3 x 3 affine to points (N, 2+): float64 (N, 2)."""
    p = np.asarray(pts, dtype=np.float64)[:, :2]
    return p @ matrix[:2, :2].T + matrix[:2, 2]


# ------------------------------------------------------------------------------------------
# Base photo and landmarks
# ------------------------------------------------------------------------------------------


def source_linear(name: str = DEFAULT_BASE) -> np.ndarray:
    """Base face ``name`` in linear sRGB: float32 (H, W, 3) in [0, 1], read-only (cached).

    Raises
    ------
    ValueError
        Unknown face.
    analyzer.errors.UnreadablePhoto
        The base photo is missing or not the expected file (checksum).
    """
    return _source_linear(base_source(name).name)


@cache
def _source_linear(name: str) -> np.ndarray:
    lin = encoded_to_linear(BASES[name].load())
    lin.setflags(write=False)
    return lin


def _detect_base_points(src: BaseSource) -> np.ndarray:
    """MediaPipe landmarks of the unposed default-size frame, in source pixels (478, 2)."""
    from ..face.landmarks import Landmarker

    fov = src.field_of_view
    frame = warp(source_linear(src.name), _source_to_frame(DEFAULT_SIZE, fov), DEFAULT_SIZE,
                 interpolation=cv2.INTER_LANCZOS4)  # fmt: skip
    with Landmarker() as lm:
        face = lm.detect(linear_to_srgb8(frame), name=f"{src.name} (base frame)")
    inverse = np.linalg.inv(_source_to_frame(DEFAULT_SIZE, fov))
    return transform_points(inverse, face.points)


def base_face(name: str = DEFAULT_BASE) -> BaseFace:
    """Landmarks, scale and template masks of base face ``name``, computed once per process.

    The first call for a face runs MediaPipe once (about 1 s with model loading); later calls
    return the same object.

    Parameters
    ----------
    name : str
        A key of :data:`analyzer.samples.BASES` (default ``"astronaut"``).

    Returns
    -------
    BaseFace

    Raises
    ------
    ValueError
        Unknown face.
    analyzer.errors.ModelMissing
        The face landmark model is not installed (``python -m analyzer fetch-model``).
    analyzer.errors.UnreadablePhoto
        The base photo is missing or not the expected file (checksum).
    """
    return _base_face(base_source(name).name)


@cache
def _base_face(name: str) -> BaseFace:
    src = BASES[name]
    pts = _detect_base_points(src)
    pts.setflags(write=False)
    px_per_mm = iris_diameter_px(pts) / DEFAULT.iris_diameter_mm
    centre = pts[list(FACE_OVAL)].mean(axis=0)
    centre.setflags(write=False)
    masks = _template_masks(pts, px_per_mm, src)
    for m in masks.values():
        m.setflags(write=False)
    return BaseFace(pts, px_per_mm, centre, MappingProxyType(masks), src)


# ------------------------------------------------------------------------------------------
# Template masks
# ------------------------------------------------------------------------------------------


def _template_shape(src: BaseSource) -> tuple[int, int]:
    """(height, width) of the template frame."""
    fov, k = src.field_of_view, src.template_scale
    return (round(fov[3] * k), round(fov[2] * k))


def fill_polygon(shape: tuple[int, int], pts: np.ndarray, *, hull: bool = False) -> np.ndarray:
    """Binary uint8 mask, shape ``shape``, of a polygon (or its convex hull) given as (N, 2)
    points in continuous pixel coordinates."""
    p = np.asarray(pts, dtype=np.float64) - 0.5  # OpenCV centres pixels on integers
    poly = np.round(p * 16).astype(np.int32)
    if hull:
        poly = cv2.convexHull(poly)
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [poly.reshape(-1, 2)], 1, cv2.LINE_8, 4)
    return mask


def _disc(radius_px: float) -> np.ndarray:
    r = max(1, round(radius_px))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _grow(mask: np.ndarray, radius_px: float) -> np.ndarray:
    return cv2.dilate(mask, _disc(radius_px))


def _shrink(mask: np.ndarray, radius_px: float) -> np.ndarray:
    return cv2.erode(mask, _disc(radius_px))


def _feather(mask: np.ndarray, sigma_px: float, *, inward: bool = True) -> np.ndarray:
    """Soft float32 version of a binary mask: Gaussian-blurred (after eroding 1 sigma when
    ``inward``: the weight is 0.16 on the original edge, 0.5 one sigma inside, 0.98 three
    sigma inside)."""
    m = _shrink(mask, sigma_px) if inward else mask
    return cv2.GaussianBlur(m.astype(np.float32), (0, 0), sigma_px)


def _ellipse(shape: tuple[int, int], centre, semi_axes) -> np.ndarray:
    """Binary uint8 mask of an axis-aligned ellipse (continuous coordinates)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64) + 0.5
    return ((((xx - centre[0]) / semi_axes[0]) ** 2 + ((yy - centre[1]) / semi_axes[1]) ** 2) <= 1.0).astype(
        np.uint8
    )


def _face_frame(pts: np.ndarray) -> tuple[np.ndarray, float, float, np.ndarray]:
    """(centre x/y of the face width line, face width, face height, chin point), template px."""
    a, b = pts[FACE_WIDTH[0]], pts[FACE_WIDTH[1]]
    top, chin = pts[FACE_HEIGHT[0]], pts[FACE_HEIGHT[1]]
    return (a + b) / 2.0, float(np.hypot(*(b - a))), float(np.hypot(*(chin - top))), chin


def _skin_binary(pts: np.ndarray, linear: np.ndarray, mm: float, dark_fraction: float) -> np.ndarray:
    """Face oval minus eyes, brows, lips, nostrils and dark (hair/shadow) pixels: uint8."""
    shape = linear.shape[:2]
    oval = _shrink(fill_polygon(shape, pts[list(FACE_OVAL)]), _OVAL_ERODE_MM * mm)
    holes = np.zeros(shape, np.uint8)
    for idx, grow, hull in (
        (LEFT_EYE, _EYE_GROW_MM, False),
        (RIGHT_EYE, _EYE_GROW_MM, False),
        (LEFT_BROW, _BROW_GROW_MM, True),
        (RIGHT_BROW, _BROW_GROW_MM, True),
        (LIPS_OUTER, _LIP_GROW_MM, False),
        (NOSTRILS, _NOSTRIL_GROW_MM, True),
    ):
        holes |= _grow(fill_polygon(shape, pts[list(idx)], hull=hull), grow * mm)
    luma = linear @ BT709_LUMINANCE_WEIGHTS
    candidate = (oval > 0) & (holes == 0)
    dark = (luma < dark_fraction * np.median(luma[candidate])).astype(np.uint8)
    dark = _grow(cv2.morphologyEx(dark, cv2.MORPH_OPEN, _disc(0.5 * mm)), _DARK_GROW_MM * mm)
    return (candidate & (dark == 0)).astype(np.uint8)


def _cheek_weight(pts: np.ndarray, shape: tuple[int, int], width: float) -> np.ndarray:
    """1 + boost x (two Gaussian bumps on the cheek-region centroids)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64) + 0.5
    sigma = _CHEEK_SIGMA_W * width
    bumps = np.zeros(shape)
    for name in ("left_cheek", "right_cheek"):
        cx, cy = pts[list(REGION_LANDMARKS[name])].mean(axis=0)
        bumps = np.maximum(bumps, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)))
    return (1.0 + _CHEEK_BOOST * bumps).astype(np.float32)


def _person(
    pts: np.ndarray, shape: tuple[int, int], src: BaseSource
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary (head-and-hair ellipse, neck ellipse, torso polygon), uint8, template frame."""
    centre, w, h, chin = _face_frame(pts)
    top = pts[FACE_HEIGHT[0]]
    (hx, hy), (nx, ny) = src.head_semi_axes, src.neck_semi_axes
    head = _ellipse(shape, (centre[0], top[1] + src.head_centre_h * h), (hx * w, hy * h))
    neck = _ellipse(shape, (centre[0], chin[1] + src.neck_centre_h * h), (nx * w, ny * h))
    torso = fill_polygon(shape, np.array([(centre[0] + x * w, chin[1] + y * h) for x, y in src.torso]))
    return head, neck, torso


def _person_grabcut(
    linear: np.ndarray,
    skin: np.ndarray,
    head: np.ndarray,
    neck: np.ndarray,
    torso: np.ndarray,
    chin_y: float,
    face_height: float,
    mm: float,
) -> np.ndarray:
    """The person (hair, face, neck, clothes) as uint8, GrabCut seeded by the geometric shape.

    Seeds: sure person = the skin grown 2 mm and the torso below 0.9 h under the chin, shrunk
    5 mm; probably person = head ellipse, neck and torso; probably background = a 6 mm band
    around them; background elsewhere.  Five iterations (Rother, Kolmogorov & Blake 2004, as
    implemented by OpenCV); holes in the result are filled.
    """
    person = head | neck | torso
    seeds = np.full(person.shape, cv2.GC_BGD, np.uint8)
    seeds[_grow(person, _GRABCUT_BAND_MM * mm) > 0] = cv2.GC_PR_BGD
    seeds[person > 0] = cv2.GC_PR_FGD
    seeds[_grow(skin, 2.0 * mm) > 0] = cv2.GC_FGD
    low = torso.copy()
    low[: int(chin_y + _SURE_TORSO_H * face_height)] = 0
    seeds[_shrink(low, 5.0 * mm) > 0] = cv2.GC_FGD
    bgr = cv2.cvtColor(linear_to_srgb8(linear), cv2.COLOR_RGB2BGR)
    models = (np.zeros((1, 65)), np.zeros((1, 65)))
    cv2.grabCut(bgr, seeds, None, *models, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    found = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.uint8)
    return _fill_holes(found)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Binary mask with every region not connected to the frame border filled."""
    outside = np.pad(1 - mask, 1, constant_values=1)
    flood = outside.copy()
    cv2.floodFill(flood, None, (0, 0), 2)
    return (mask | (flood[1:-1, 1:-1] == 1)).astype(np.uint8)


def _template_masks(
    points_source: np.ndarray, px_per_mm_source: float, src: BaseSource
) -> dict[str, np.ndarray]:
    """All template masks (see the module table)."""
    shape = _template_shape(src)
    x0, y0 = src.field_of_view[:2]
    k = src.template_scale
    to_template = _affine(k * np.eye(2), (-k * x0, -k * y0))
    pts = transform_points(to_template, points_source)
    mm = px_per_mm_source * k  # template px per mm
    linear = warp(source_linear(src.name), to_template, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)

    skin_bin = _skin_binary(pts, linear, mm, src.dark_fraction)
    skin = _feather(skin_bin, _FEATHER_MM * mm)
    core = (skin >= _CORE_LEVEL).astype(np.uint8)
    nose = _grow(fill_polygon(shape, pts[list(NOSE)], hull=True), _NOSE_GROW_MM * mm)
    flake_zone = ((skin >= 0.5) & (nose == 0)).astype(np.float32)

    head, neck, torso = _person(pts, shape, src)
    _, _, height, chin = _face_frame(pts)
    person = _person_grabcut(linear, skin_bin, head, neck, torso, chin[1], height, mm)
    guard = _grow(skin_bin, _GUARD_MM * mm) | (neck & person)
    soft = _PERSON_FEATHER_MM * mm
    wall = (1.0 - _feather(person, soft, inward=False)) * (1 - guard)
    clothes_bin = (person & torso & (1 - head) & (1 - neck)).astype(np.uint8)
    clothes = _feather(clothes_bin, soft, inward=False) * (1 - guard)

    return {
        "skin": skin,
        "skin_core": core.astype(np.float32),
        "flake_zone": flake_zone,
        "cheeks": _cheek_weight(pts, shape, _face_frame(pts)[1]),
        "wall": wall.astype(np.float32),
        "clothes": clothes.astype(np.float32),
    }
