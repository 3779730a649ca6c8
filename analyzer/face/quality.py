"""The quality gate: is this photo good enough to compare with the others?

:func:`assess_quality` returns every problem it finds as a
:class:`~analyzer.result.QualityIssue` with a stable ``code``, a calm message that ends with
what to do, and whether it makes the numbers unreliable (``blocking``).

=================  ========  =============================================================================
code               blocking  when
=================  ========  =============================================================================
several_faces      no        MediaPipe found more than one face (the largest was measured)
face_too_small     yes       face width (landmarks 234-454) in original pixels < ``min_face_width_px``
low_resolution     no        ``px_per_mm`` of the decoded image < ``texture_px_per_mm``: texture and
                             flaking are measured on upsampled pixels and read low; colour is unaffected
head_turned        yes       ``|yaw| > max_yaw_deg``
head_tilted        yes       ``|pitch| > max_pitch_deg`` or ``|roll| > max_roll_deg``
blurred            yes       variance of the Laplacian of the skin < ``min_sharpness`` (below)
overexposed        see note  fraction of skin pixels with a channel >= ``clipped_level`` (250/255)
                             > ``max_clipped_fraction``
underexposed       yes       fraction of skin pixels with a channel <= ``dark_level`` (5/255)
                             > ``max_clipped_fraction``
region_occluded    see note  a region keeps less than ``min_skin_fraction`` of its polygon as skin
=================  ========  =============================================================================

The blocking column is documentation: the code takes each code's flag from
:data:`analyzer.vocab.QUALITY_CODES` (:func:`quality_issue`).

overexposed is blocking only when too little skin is left to measure: two or more face regions
keep less than ``min_skin_fraction`` of their polygon once the clipped pixels are removed, at
least one of them because of the shine.  Otherwise it is a note: the clipped pixels are left out
of each region's numbers and of the face value's weights, and the rest is measured (a shiny
forehead after an ointment no longer throws a photo away).

region_occluded is one issue naming every covered region.  It is blocking when two or more of
the four face regions (:data:`analyzer.vocab.FACE_REGIONS`) are covered: the face value
would then rest on well under half of its skin.  One covered region (typically a fringe over
the forehead, or glasses over the nose) is not blocking: the face value is weighted by the skin
pixels kept, so that region contributes little, and its own numbers carry their skin fraction.

Sharpness
---------
Luminance of the crop is resampled to ``texture_px_per_mm`` (so the value does not depend on
how close the phone was), encoded to 8-bit sRGB, scaled so that the skin's median is level 128
(sRGB is close to a power law, so this removes the exposure: without it a dark but sharp photo
reads as blurred), and filtered with the 4-neighbour Laplacian; the variance is taken over the
union of the skin masks eroded by 0.5 mm (so hair and region edges do not count).
Unit: (8-bit levels)^2 at a skin level of 128.

Calibration (``tests/test_face_quality.py``): the astronaut portrait upscaled x2, x4, x8 reads
0.24-0.27; blurred by a Gaussian of sigma 2 px at 4 px/mm, 0.13-0.15; sigma 4 px, 0.08-0.11.
``min_sharpness = 0.19`` separates them.  The astronaut is a 0.73 px/mm photo upsampled, with no
real skin detail at 4 px/mm, so this threshold is lenient: re-check it on real sharp and shaken
selfies when they are available.

References
----------
Pech-Pacheco et al. (2000), "Diatom autofocusing in brightfield microscopy: a comparative
study", Proc. ICPR 3:314 (variance of the Laplacian as a focus measure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..colour.spaces import linear_to_srgb, luminance
from ..result import Quality, QualityIssue
from ..settings import DEFAULT, Settings
from ..vocab import FACE_REGIONS, QUALITY_CODES, REGION_KEYS
from .landmarks import FaceLandmarks
from .regions import FaceRegions
from .scale import resample_to_scale

__all__ = ["Clipping", "assess_quality", "clipping", "quality_issue", "sharpness"]

@dataclass(frozen=True, eq=False)
class Clipping:
    """Where the camera lost the skin's colour, per pixel of a crop ((h, w) bool each).

    ``bright``: a channel at or above ``Settings.clipped_level`` of full scale (washed out to
    white); ``dark``: a channel at or below ``Settings.dark_level`` (lost in black).  A clipped
    channel breaks the R/G ratio and the optical densities, so these pixels are left out of every
    number (:attr:`measurable`) and counted by the quality gate."""

    bright: np.ndarray
    dark: np.ndarray

    @property
    def measurable(self) -> np.ndarray:
        """Pixels whose every channel the camera recorded within range."""
        return ~(self.bright | self.dark)


def clipping(pixels: np.ndarray, settings: Settings = DEFAULT) -> Clipping:
    """The :class:`Clipping` of encoded pixels, judged on the values the camera recorded (before
    any profile conversion or light correction).

    ``pixels``: (h, w, 3) uint8 or uint16.  Two integer range tests over the crop (OpenCV).

    >>> c = clipping(np.array([[[255, 120, 90], [6, 6, 6], [5, 80, 80], [249, 249, 249]]], np.uint8))
    >>> c.bright.tolist(), c.dark.tolist(), c.measurable.tolist()
    ([[True, False, False, False]], [[False, False, True, False]], [[False, True, False, True]])
    """
    top = np.iinfo(pixels.dtype).max
    hi = math.ceil(settings.clipped_level * top)  # a channel >= hi is clipped (250 of 255)
    lo = math.floor(settings.dark_level * top)  # a channel <= lo is black (5 of 255)
    px = np.ascontiguousarray(pixels)
    # inRange is 255 where all three channels lie inside the bounds
    bright = cv2.inRange(px, (0, 0, 0), (hi - 1,) * 3) == 0
    dark = cv2.inRange(px, (lo + 1,) * 3, (top,) * 3) == 0
    return Clipping(bright, dark)


_ERODE_MM = 0.5  # skin masks are eroded by this before the sharpness measure
_MIN_SHARPNESS_PX = 200  # fewer skin pixels at the fixed scale: sharpness is not judged
_SKIN_LEVEL = 128.0  # 8-bit level the skin's median luminance is scaled to (exposure-free)
_MIN_LEVEL = 2.0  # skin median below this many 8-bit levels: too dark to judge sharpness

_PLAIN_NAMES = {
    "forehead": "the forehead",
    "left_cheek": "your left cheek",
    "right_cheek": "your right cheek",
    "chin": "the chin",
    "nose": "the nose",
}
"""Region names as a patient reads them (left/right are the patient's own sides)."""


def _overexposed(high: float, clipped: np.ndarray, regions: FaceRegions,
                 settings: Settings) -> QualityIssue:
    """The ``overexposed`` issue: blocking only when too little skin is left to measure.

    Clipped pixels are left out of every region's numbers (:mod:`analyzer.pipeline`), so shine
    on part of the face does not bias the rest.  The photo is refused when, after removing
    them, two or more face regions keep less than ``min_skin_fraction`` of their polygon and
    the shine made at least one of them fall below it (occlusion alone is ``region_occluded``'s
    call); otherwise the issue is a note naming where the shine was.
    """
    lost, below, shiny = [], 0, []
    for name in FACE_REGIONS:
        region = regions.regions.get(name)
        n = 0 if region is None else np.count_nonzero(region.mask)
        if n == 0:
            continue
        gone = np.count_nonzero(clipped & region.mask) / n
        left = region.kept_fraction * (1.0 - gone)
        if gone >= 0.05:
            shiny.append(name)
        if left < settings.min_skin_fraction:
            below += 1
            if region.kept_fraction >= settings.min_skin_fraction:
                lost.append(name)
    where = _listed([_PLAIN_NAMES.get(n, n) for n in (lost or shiny)]) or "small spots"
    if lost and below >= 2:
        return quality_issue(
            "overexposed",
            f"The photo is too bright: {100 * high:.0f} % of your skin is washed out to white, which leaves "
            f"too little of {where} to measure. Move away from direct sun or a bright lamp, switch the "
            "flash off, and take it again.",
            blocking=True,
        )
    return quality_issue(
        "overexposed",
        f"{100 * high:.0f} % of your skin shines too brightly to measure ({where}); it was left out and "
        "the rest was measured. Next time, blot the shine and avoid direct light on your face.",
        blocking=False,
    )


def _listed(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c' ('' for none)."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def quality_issue(code: str, message: str, *, blocking: bool | None = None) -> QualityIssue:
    """A :class:`~analyzer.result.QualityIssue` whose ``blocking`` flag is the vocabulary's.

    Parameters
    ----------
    code : str
        A key of :data:`analyzer.vocab.QUALITY_CODES`.
    message : str
        What went wrong and what to do.
    blocking : bool, optional
        Required for a code the gate decides per photo (``QUALITY_CODES[code].blocking is
        None``: ``region_occluded``); the other codes' flag is fixed and need not be given.

    Raises
    ------
    KeyError
        ``code`` is not a quality code.
    ValueError
        ``blocking`` is missing for a code decided per photo, or contradicts a fixed one.

    Examples
    --------
    >>> quality_issue("several_faces", "Two faces.").blocking
    False
    >>> quality_issue("region_occluded", "Hair.", blocking=True).blocking
    True
    """
    fixed = QUALITY_CODES[code].blocking
    if fixed is None and blocking is None:
        raise ValueError(f"quality code {code!r} is decided per photo: pass blocking=True or False")
    if fixed is not None and blocking is not None and blocking != fixed:
        raise ValueError(f"quality code {code!r} is always blocking={fixed}, got blocking={blocking}")
    return QualityIssue(code, message, blocking=fixed if fixed is not None else blocking)


def assess_quality(
    *,
    width: int,
    height: int,
    scale: float,
    landmarks: FaceLandmarks,
    regions: FaceRegions,
    linear_crop: np.ndarray,
    clipped: Clipping,
    settings: Settings = DEFAULT,
) -> Quality:
    """Check one photo and list its problems.

    Parameters
    ----------
    width, height : int
        Size of the original image, pixels (as stored in the file).
    scale : float
        Decoded pixels per original pixel, in (0, 1] (< 1 when the decoder downscaled).
    landmarks : FaceLandmarks
        The measured face, in decoded pixels.
    regions : FaceRegions
        Its regions; masks over ``regions.box``.
    linear_crop : ndarray of float32, shape (y1-y0, x1-x0, 3)
        Linear sRGB over ``regions.box``, [0, 1] (for the sharpness).
    clipped : Clipping
        :func:`clipping` of the encoded pixels over ``regions.box`` (for the exposure).
    settings : Settings, optional
        Thresholds (see the module table).

    Returns
    -------
    Quality
        ``ok`` is False when any issue is blocking.  Issues in the order of the module table.

    Raises
    ------
    ValueError
        ``linear_crop`` does not match ``regions.box`` or ``scale`` is not positive.
    """
    x0, y0, x1, y1 = regions.box
    if linear_crop.shape != (y1 - y0, x1 - x0, 3):
        raise ValueError(
            f"linear_crop has shape {linear_crop.shape}, expected {(y1 - y0, x1 - x0, 3)} "
            "(the crop of regions.box)"
        )
    if clipped.bright.shape != linear_crop.shape[:2]:
        raise ValueError(f"clipped has shape {clipped.bright.shape}, expected {linear_crop.shape[:2]} "
                         "(the crop of regions.box)")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    issues: list[QualityIssue] = []
    add = issues.append

    if landmarks.faces_found > 1:
        add(quality_issue(
            "several_faces",
            f"{landmarks.faces_found} faces are in the photo; the largest was measured. Next "
            "time, make sure only your face is in the frame.",
        ))  # fmt: skip

    face_width = regions.face_width_px / scale
    if face_width < settings.min_face_width_px:
        add(quality_issue(
            "face_too_small",
            f"Your face is too small in the photo ({face_width:.0f} pixels wide, at least "
            f"{settings.min_face_width_px:.0f} are needed). Hold the phone closer so your face "
            "fills most of the frame, and take it again.",
        ))  # fmt: skip

    if regions.px_per_mm < settings.texture_px_per_mm:
        add(quality_issue(
            "low_resolution",
            f"The photo has little fine detail ({regions.px_per_mm:.1f} pixels per mm; "
            f"{settings.texture_px_per_mm:g} are needed), so texture and flaking are less "
            "reliable; colour is still measured. Use the full-resolution camera and hold it a "
            "little closer.",
        ))  # fmt: skip

    if abs(landmarks.yaw_deg) > settings.max_yaw_deg:
        side = "left" if landmarks.yaw_deg > 0 else "right"
        add(quality_issue(
            "head_turned",
            f"Your head is turned to your {side} (by about {abs(landmarks.yaw_deg):.0f} degrees). "
            "Look straight into the camera and take the photo again.",
        ))  # fmt: skip

    tilts = []
    if abs(landmarks.pitch_deg) > settings.max_pitch_deg:
        tilts.append(
            f"{'up' if landmarks.pitch_deg > 0 else 'down'} by about {abs(landmarks.pitch_deg):.0f} degrees"
        )
    if abs(landmarks.roll_deg) > settings.max_roll_deg:
        tilts.append(f"sideways by about {abs(landmarks.roll_deg):.0f} degrees")
    if tilts:
        add(quality_issue(
            "head_tilted",
            f"Your head is tilted {' and '.join(tilts)}. Hold your head level, look straight "
            "into the camera, and take the photo again.",
        ))  # fmt: skip

    skin = np.zeros(linear_crop.shape[:2], dtype=bool)
    for region in regions.regions.values():
        skin |= region.mask

    value = sharpness(linear_crop, skin, regions.px_per_mm, settings.texture_px_per_mm)
    if value is not None and value < settings.min_sharpness:
        add(quality_issue(
            "blurred",
            "The photo is blurred. Rest the phone on something steady, tap your face to focus, "
            "and take it again.",
        ))  # fmt: skip

    n_skin = int(np.count_nonzero(skin))
    if n_skin:
        high = np.count_nonzero(clipped.bright & skin) / n_skin
        low = np.count_nonzero(clipped.dark & skin) / n_skin
        if high > settings.max_clipped_fraction:
            add(_overexposed(high, clipped.bright, regions, settings))
        if low > settings.max_clipped_fraction:
            add(quality_issue(
                "underexposed",
                f"The photo is too dark: {100 * low:.0f} % of your skin is lost in black. Face a "
                "window or a lamp so your face is evenly lit, and take it again.",
            ))  # fmt: skip

    covered = [
        name
        for name in REGION_KEYS
        if name in regions.regions and regions.regions[name].kept_fraction < settings.min_skin_fraction
    ]
    if covered:
        words = [
            f"{_PLAIN_NAMES.get(n, n)} ({100 * regions.regions[n].kept_fraction:.0f} % visible)"
            for n in covered
        ]
        listed = _listed(words)
        blocking = sum(n in FACE_REGIONS for n in covered) >= 2
        add(quality_issue(
            "region_occluded",
            f"Part of your face is covered, shiny or in shadow: {listed}. Move hair, glasses or "
            "hands away, blot any shine, make sure the light is even, and take the photo again.",
            blocking=blocking,
        ))  # fmt: skip

    return Quality(tuple(issues))


def sharpness(
    linear_crop: np.ndarray, skin: np.ndarray, px_per_mm: float, target_px_per_mm: float
) -> float | None:
    """Variance of the Laplacian of the skin at a fixed physical scale.

    Parameters
    ----------
    linear_crop : ndarray of float32, shape (h, w, 3)
        Linear sRGB, [0, 1].
    skin : ndarray of bool, shape (h, w)
        Skin pixels to judge.
    px_per_mm, target_px_per_mm : float
        Scale of the crop and the scale to measure at, pixels per mm.

    Returns
    -------
    float or None
        (8-bit levels)^2 with the skin's median scaled to level 128; None when fewer than 200
        skin pixels remain at the fixed scale or the skin is black (median below 2 levels).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> crop = np.full((80, 80, 3), 0.2, np.float32) + rng.normal(0, 0.01, (80, 80, 1)).astype(np.float32)
    >>> skin = np.ones((80, 80), bool)
    >>> sharpness(crop, skin, 4.0, 4.0) > sharpness(crop * 0 + 0.2, skin, 4.0, 4.0)
    True
    """
    lum = np.ascontiguousarray(luminance(linear_crop))
    lum = resample_to_scale(lum, px_per_mm, target_px_per_mm)
    mask = resample_to_scale(skin, px_per_mm, target_px_per_mm)
    r = max(1, round(_ERODE_MM * target_px_per_mm))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    mask = cv2.erode(mask.view(np.uint8), disk, borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    if np.count_nonzero(mask) < _MIN_SHARPNESS_PX:
        return None
    encoded = linear_to_srgb(lum) * np.float32(255.0)
    level = float(np.median(encoded[mask]))
    if level < _MIN_LEVEL:
        return None
    encoded *= np.float32(_SKIN_LEVEL / level)
    lap = cv2.Laplacian(encoded, cv2.CV_32F, ksize=1)
    return float(np.var(lap[mask]))
