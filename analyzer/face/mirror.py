"""Mirrored selfies: is this photo the mirror image of the patient's baseline?

Front cameras often save the picture as the screen showed it, mirrored.  MediaPipe assigns its
landmarks by appearance, so in a mirrored photo the patient's left cheek is found where a right
cheek looks to be and is measured as ``right_cheek`` (:data:`analyzer.vocab.REGION_KEYS`: left
and right are the patient's own sides).  The landmarks cannot tell a mirrored photo; the face's
own asymmetries can (the parting of the hair, moles, freckles, uneven brows, scars).

The signature (:func:`mirror_signature`)
-----------------------------------------
1. **Canonical frame.**  The similarity (rotation, uniform scale, shift) that maps the eye
   centres, the nose tip and the chin (:mod:`analyzer.face.mesh`) onto fixed positions
   symmetric about a vertical axis (least squares, Umeyama 1991).  Its unit is the distance
   between the eye centres (IOD); the frame covers :data:`FRAME_IOD` around the eyes' midpoint,
   from the forehead to below the mouth, sampled on a :data:`SIZE` x :data:`SIZE` grid
   (area-averaged from a 4x finer warp).  Mirroring the photo mirrors this frame about its
   vertical axis, because the landmarks follow the appearance.
2. **Grey, log.**  The natural log of the relative luminance, floored at 1e-4 (``LUMINANCE_WEIGHTS`` of
   :mod:`analyzer.colour.spaces`): an exposure or a colour cast is a constant added to it.
3. **High-pass.**  The frame minus its Gaussian blur of :data:`HIGHPASS_SIGMA` cells: a light
   from one side (a smooth gradient across the face) and slow shading are removed; features of
   a few mm (a mole, a brow, the hair line) stay.
4. **z-score** over the frame: mean 0, sd 1.

The rule (:func:`is_mirrored`)
------------------------------
``score = corr(flip(sig), base) - corr(sig, base)``, where ``flip`` mirrors the canonical frame
and ``corr`` is Pearson's correlation over the frame's cells.  A photo of the same face the
right way round correlates better as it is (score < 0); a mirrored one correlates better
flipped back (score > 0).  A face with no asymmetry gives a score near 0 either way, and so do
pose and light changes that the signature does not remove.  The photo is called mirrored only
when ``score > margin`` (:data:`MARGIN`, measured in docs/metrics.md, "Mirrored selfies"); below
it nothing is said (not mirrored): a wrong flip would swap the cheeks of a photo that was right.

References
----------
Umeyama, S. (1991), "Least-squares estimation of transformation parameters between two point
patterns", IEEE TPAMI 13(4):376-380 (the similarity fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..colour.spaces import LUMINANCE_WEIGHTS, encoded_to_linear
from ..result import QualityIssue
from .mesh import CHIN, LEFT_EYE, LEFT_IRIS, NOSE_TIP, RIGHT_EYE, RIGHT_IRIS
from .quality import quality_issue

__all__ = [
    "FRAME_IOD",
    "HIGHPASS_SIGMA",
    "MARGIN",
    "MIRRORED_NOTE",
    "SIZE",
    "MirrorCheck",
    "canonical_points",
    "is_mirrored",
    "mirror_signature",
]

SIZE = 32
"""Cells per side of the signature's square frame."""

FRAME_IOD: tuple[float, float, float, float] = (-1.2, -1.0, 1.2, 2.2)
"""The frame (x0, y0, x1, y1) in IOD from the eyes' midpoint, x to the image's right, y down:
the forehead and hair line above the brows down to below the mouth, both cheeks."""

HIGHPASS_SIGMA = 1.5
"""Cells.  Gaussian sd of the blur subtracted (about 0.11 IOD, 7 mm on an adult face): of 1.5,
3 and 6 cells and none, the one that parted mirrored and unmirrored renders best
(docs/metrics.md, "Mirrored selfies")."""

MARGIN = 0.10
"""Score above which a photo is called mirrored (docs/metrics.md, "Mirrored selfies")."""

_ANCHORS: tuple[tuple[float, float], ...] = ((-0.5, 0.0), (0.5, 0.0), (0.0, 0.75), (0.0, 1.75))
"""Canonical positions (IOD) of the image-left eye centre, the image-right eye centre, the nose
tip and the chin: symmetric about x = 0 (our choice, near the mean of the sample faces)."""

_FINE = 4
"""The frame is warped at this many samples per cell, then area-averaged."""

MIRRORED_NOTE: QualityIssue = quality_issue(
    "mirrored",
    "This photo was saved mirrored (as the front camera shows it); it was flipped back so that "
    "your left and right cheeks keep their meaning.",
)
"""The non-blocking quality note of a photo that was flipped back."""


@dataclass(frozen=True)
class MirrorCheck:
    """The verdict of :func:`is_mirrored`.

    Attributes
    ----------
    mirrored : bool
        True when ``score > margin``: flip the photo back before measuring it.
    score : float
        ``corr(flip(sig), base) - corr(sig, base)``, in [-2, 2]; > 0 leans to mirrored.
    margin : float
        The margin the score was compared with.
    """

    mirrored: bool
    score: float
    margin: float


def canonical_points(points: np.ndarray) -> np.ndarray:
    """The four anchor points of a face, in the order of the canonical positions.

    Parameters
    ----------
    points : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks in pixels (:class:`~analyzer.face.landmarks.FaceLandmarks`).

    Returns
    -------
    ndarray of float64, shape (4, 2)
        The image-left eye centre, the image-right eye centre (each the mean of its iris centre
        and eye opening), the nose tip and the chin, px.  Sorted by x so that a mirrored photo
        gives the same order.
    """
    p = np.asarray(points, dtype=np.float64)[:, :2]
    eyes = [0.5 * (p[list(eye)].mean(axis=0) + p[iris[0]]) for eye, iris in ((RIGHT_EYE, RIGHT_IRIS),
                                                                           (LEFT_EYE, LEFT_IRIS))]
    eyes.sort(key=lambda e: e[0])
    return np.array([eyes[0], eyes[1], p[NOSE_TIP], p[CHIN]])


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 similarity matrix mapping ``src`` onto ``dst`` in least squares (Umeyama)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    scale = float((sig * sign).sum() / s.var(axis=0).sum())
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def mirror_signature(pixels: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The face's high-pass grey pattern in a canonical frame (module docstring).

    Parameters
    ----------
    pixels : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB (:attr:`analyzer.intake.Photo.pixels`).
    points : ndarray, shape (478, 2 or 3)
        The face's landmarks in the pixels of ``pixels``.

    Returns
    -------
    ndarray of float32, shape (SIZE, SIZE)
        Mean 0, sd 1 (all zeros for a flat image).

    Raises
    ------
    ValueError
        ``pixels`` is not (H, W, 3) or ``points`` is not (478, 2+).
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"pixels must be (H, W, 3), got shape {pixels.shape}")
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[0] <= max(CHIN, *LEFT_IRIS) or pts.shape[1] < 2:
        raise ValueError(f"points must be the (478, 2 or 3) landmarks, got shape {pts.shape}")
    x0, y0, x1, y1 = FRAME_IOD
    n = SIZE * _FINE
    # Fine pixel i covers [i - 0.5, i + 0.5] (OpenCV's convention): the axis x = 0 falls at
    # (n - 1) / 2, so that mirroring the fine grid (i -> n - 1 - i) mirrors the face.
    cells = np.array([[(x - x0) * n / (x1 - x0) - 0.5, (y - y0) * n / (y1 - y0) - 0.5] for x, y in _ANCHORS])
    m = _similarity(canonical_points(pts), cells)
    # Warp only the face's bounding box: the frame is a few hundred px, the photo megapixels.
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [n, 0, 1], [0, n, 1], [n, n, 1]], float) @ inv.T
    h, w = pixels.shape[:2]
    bx0, by0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, [w, h])
    bx1, by1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 2, 0, [w, h])
    crop = pixels[by0:by1, bx0:bx1]
    if crop.size == 0:
        return np.zeros((SIZE, SIZE), np.float32)
    grey = np.log(np.maximum(encoded_to_linear(crop) @ LUMINANCE_WEIGHTS, 1e-4)).astype(np.float32)
    shift = m.copy()
    shift[:, 2] += m[:, :2] @ np.array([bx0, by0], float)
    fine = cv2.warpAffine(grey, shift, (n, n), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    sig = cv2.resize(fine, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    sig = sig - cv2.GaussianBlur(sig, (0, 0), HIGHPASS_SIGMA, borderType=cv2.BORDER_REFLECT)
    sd = float(sig.std())
    if not np.isfinite(sd) or sd < 1e-6:
        return np.zeros((SIZE, SIZE), np.float32)
    return ((sig - sig.mean()) / sd).astype(np.float32)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    den = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / den if den > 0 else 0.0


def is_mirrored(signature: np.ndarray, baseline: np.ndarray, *, margin: float = MARGIN) -> MirrorCheck:
    """Whether a photo is the mirror image of the baseline (module docstring, "The rule").

    Parameters
    ----------
    signature, baseline : ndarray, shape (SIZE, SIZE)
        :func:`mirror_signature` of the photo and of the patient's baseline photo.
    margin : float
        Score above which the photo is called mirrored (default :data:`MARGIN`).

    Returns
    -------
    MirrorCheck

    Raises
    ------
    ValueError
        The two signatures differ in shape.
    """
    if signature.shape != baseline.shape:
        raise ValueError(f"signatures differ in shape: {signature.shape} and {baseline.shape}")
    score = _corr(signature[:, ::-1], baseline) - _corr(signature, baseline)
    return MirrorCheck(score > margin, score, margin)
