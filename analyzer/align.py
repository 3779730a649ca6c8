"""Faces lined up with the baseline photo, in corrected light, for looking at (the dashboard's timeline and its
capture guide).  Nothing here is measured: measurement always works on the photo's own pixels.

Alignment is a similarity transform (rotation, uniform scale, shift; no shear) fitted by
:func:`cv2.estimateAffinePartial2D` to six stable landmarks (the outer and inner eye corners,
the nose tip and the chin; :mod:`analyzer.face.mesh`) of the photo and of the reference
face.  Mouth landmarks are left out: expressions move them.

References
----------
Kartynnik, Y. et al. (2019). Real-time facial surface geometry from monocular video on mobile
GPUs. arXiv:1907.06724 (MediaPipe face-mesh landmark indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colour.spaces import linear_to_srgb8
from .face.mesh import (
    CHIN,
    FACE_OVAL,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    NOSE_TIP,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
)
from .intake import load_photo

__all__ = ["ANCHORS", "LocatedFace", "align_face", "face_outline", "locate_face", "reference_frame"]

ANCHORS = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER, NOSE_TIP, CHIN)
"""Face-mesh indices (33, 133, 362, 263, 1, 152): right eye outer/inner corner, left eye
inner/outer corner, nose tip, chin."""


@dataclass(frozen=True, eq=False)
class LocatedFace:
    """An upright sRGB photo (uint8, RGB) and its face landmarks (478 x 2, pixels)."""

    rgb: np.ndarray
    points: np.ndarray


def locate_face(analyzer, source: bytes | str, *, name: str = "<bytes>", corrected: bool = True) -> LocatedFace:
    """Decode a photo (upright, sRGB), find its face landmarks and, with ``corrected``, correct
    its light as the measurement does (:func:`analyzer.pipeline.light_correction`), so faces of
    different days are shown in the same light.

    Parameters
    ----------
    analyzer : analyzer.pipeline.Analyzer
        An open analyzer (its landmarker and settings are used).

    Raises
    ------
    AnalyzerError
        The photo cannot be read, or has no face.
    """
    from .pipeline import light_correction

    photo = load_photo(source, settings=analyzer.settings, name=name)
    rgb = photo.pixels if photo.pixels.dtype == np.uint8 else (photo.pixels >> 8).astype(np.uint8)
    face = analyzer.landmarker.detect(rgb, name=name)
    if corrected:
        lin = light_correction(photo, rgb, face, analyzer.settings).linear(photo)
        rgb = linear_to_srgb8(lin)
    return LocatedFace(np.ascontiguousarray(rgb), face.points[:, :2].astype(np.float32))


def reference_frame(points: np.ndarray, size: int, margin: float = 0.18) -> np.ndarray:
    """The reference face's landmarks mapped into a ``size`` x ``size`` square around its face
    oval (``margin`` of the oval's size on each side); returns the 478 x 2 points there."""
    oval = points[list(FACE_OVAL)]
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    side = float(max(hi - lo)) * (1 + 2 * margin)
    centre = (lo + hi) / 2
    return ((points - centre) / side + 0.5) * size


def align_face(face: LocatedFace, target: np.ndarray, size: int) -> np.ndarray:
    """``face`` warped so its anchor landmarks fall on ``target``'s (a :func:`reference_frame`),
    cropped to ``size`` x ``size`` pixels (uint8 RGB)."""
    src = face.points[list(ANCHORS)].astype(np.float32)
    dst = target[list(ANCHORS)].astype(np.float32)
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if m is None:  # degenerate anchors: fall back to the plain crop of the reference frame
        m = cv2.estimateAffinePartial2D(face.points[list(FACE_OVAL)], target[list(FACE_OVAL)])[0]
    return cv2.warpAffine(face.rgb, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(245, 245, 245))


def face_outline(target: np.ndarray, size: int, colour=(255, 255, 255), alpha: int = 150) -> np.ndarray:
    """A transparent ``size`` x ``size`` RGBA image with the face oval, eye corners and nose tip
    of ``target`` drawn faintly: the outline to line up the next photo with."""
    out = np.zeros((size, size, 4), np.uint8)
    pts = np.round(target[list(FACE_OVAL)]).astype(np.int32).reshape(-1, 1, 2)
    width = max(2, size // 180)
    cv2.polylines(out, [pts], isClosed=True, color=(*colour, alpha), thickness=width, lineType=cv2.LINE_AA)
    for i in ANCHORS[:5]:
        x, y = np.round(target[i]).astype(int)
        cv2.circle(out, (int(x), int(y)), width * 2, (*colour, alpha), thickness=-1, lineType=cv2.LINE_AA)
    return out
