"""MediaPipe face-mesh landmark indices: the only home of every index set the code uses.

MediaPipe's Face Landmarker returns 478 points: 0-467 the face mesh (Kartynnik et al. 2019),
468-472 the patient's right iris and 473-477 the left iris (centre, then four points on the
limbus; Ablavatski et al. 2020).  The indices are fixed by the mesh topology, so an index set
covers the same anatomy in every photo.  ``left`` and ``right`` are the patient's own sides, as
in MediaPipe's naming (its left eye runs through landmark 263, on the image's right in a
non-mirrored photo; :mod:`analyzer.face.landmarks`).

Every name below is an immutable tuple of ``int`` (or a read-only mapping of them); contours are
in ring (polygon) order.  Nothing else in the project writes a landmark number.

====================================  ==========================================================
name                                  what, source
====================================  ==========================================================
:data:`FACE_OVAL`                     face contour, 36 points clockwise from the forehead top
                                      (FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL)
:data:`LEFT_EYE`, :data:`RIGHT_EYE`   eye openings, 16 points each (FACE_LANDMARKS_LEFT/RIGHT_EYE)
:data:`LEFT_IRIS`, :data:`RIGHT_IRIS` iris centre and its 4 limbus points (FACE_LANDMARKS_*_IRIS)
:data:`LEFT_IRIS_HORIZONTAL`, ...     the horizontal pair of limbus points (iris diameter)
:data:`LEFT_BROW`, :data:`RIGHT_BROW` eyebrows, 10 points each (FACE_LANDMARKS_*_EYEBROW)
:data:`LIPS_OUTER`                    outer lip contour, 20 points (FACE_LANDMARKS_LIPS)
:data:`NOSE`, :data:`NOSTRILS`        whole nose (FACE_LANDMARKS_NOSE plus bridge), nostril hull
:data:`FACE_WIDTH`                    234-454: outermost face-oval points at eye level
:data:`FACE_HEIGHT`                   10-152: forehead top to chin
:data:`REGION_LANDMARKS`              the measured regions' polygons (table below)
single points                         eye corners, nose tip, chin (:data:`NOSE_TIP`, ...)
====================================  ==========================================================

Region polygons (:data:`REGION_LANDMARKS`, keys in :data:`analyzer.vocab.REGION_KEYS` order)
------------------------------------------------------------------------------------------------
===========  ====================================================  ==================================
region       landmark indices (ring order)                         source
===========  ====================================================  ==================================
forehead     107 66 105 104 69 108 151 337 299 333 334 296 336 9  ours, from rPPG practice
                                                                   (docs/science.md, Face regions)
left_cheek   346 347 330 266 425 411 352                           as forehead
right_cheek  117 118 101 36 205 187 123                            as forehead
chin         83 18 313 406 421 200 201 182                         as forehead
nose         168 417 351 419 248 281 5 51 3 196 122 193            ours: bridge from the nasion
                                                                   (168) down the dorsum to the
                                                                   supratip (51-5-281), bounded by
                                                                   the side walls; clear of the
                                                                   eyes (inner corners 133/362 and
                                                                   245/465 lie outside) and of the
                                                                   tip and nostrils (4, 1, 48/278,
                                                                   64/294, 98/327 lie below)
===========  ====================================================  ==================================

The contours are checked against ``mediapipe.tasks.python.vision.FaceLandmarksConnections`` in
``tests/test_face_mesh.py``; the regions' placement on a real face in
``tests/test_face_regions.py``.

References
----------
Kartynnik et al. (2019), "Real-time Facial Surface Geometry from Monocular Video on Mobile
GPUs", arXiv:1907.06724 (the 468-point mesh and its indices).  Grishchenko et al. (2020),
"Attention Mesh: High-fidelity Face Mesh Prediction in Real-time", arXiv:2006.10962 (the
refined eye and lip landmarks of the 478-point Face Landmarker).  Ablavatski et al. (2020),
"Real-time Pupil Tracking from Monocular Video for Digital Puppetry", arXiv:2006.11341 (iris
points 468-477).  Kossack et al. (2019) (forehead and cheeks as the most informative skin
regions; docs/science.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "N_LANDMARKS",
    "FACE_OVAL",
    "LEFT_EYE",
    "RIGHT_EYE",
    "LEFT_IRIS",
    "RIGHT_IRIS",
    "LEFT_IRIS_HORIZONTAL",
    "RIGHT_IRIS_HORIZONTAL",
    "LEFT_BROW",
    "RIGHT_BROW",
    "LIPS_OUTER",
    "NOSE",
    "NOSTRILS",
    "FACE_WIDTH",
    "FACE_HEIGHT",
    "REGION_LANDMARKS",
    "FOREHEAD_TOP",
    "CHIN",
    "NOSE_TIP",
    "RIGHT_EYE_OUTER",
    "RIGHT_EYE_INNER",
    "LEFT_EYE_INNER",
    "LEFT_EYE_OUTER",
]

N_LANDMARKS = 478
"""Face mesh (468) plus iris (10) landmarks."""

# --- single points ------------------------------------------------------------------------------

FOREHEAD_TOP = 10
"""Top of the face oval, mid-forehead."""

CHIN = 152
"""Bottom of the face oval (menton)."""

NOSE_TIP = 1
"""Tip of the nose (pronasale)."""

RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
"""Outer and inner corner of the patient's right eye (image left in a non-mirrored photo)."""

LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
"""Inner and outer corner of the patient's left eye."""

# --- contours (FaceLandmarksConnections, chained into rings) ------------------------------------

FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
"""Face-oval contour, 36 landmarks, clockwise from the top of the forehead (10)."""

LEFT_EYE: tuple[int, ...] = (362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398)
"""The patient's left eye opening (image right in an unmirrored photo): lower lid 362 -> 263,
upper lid back."""

RIGHT_EYE: tuple[int, ...] = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
"""The patient's right eye opening: lower lid 33 -> 133, upper lid back."""

LEFT_IRIS: tuple[int, ...] = (473, 474, 475, 476, 477)
"""Centre and ring (4 points on the limbus) of the left iris."""

RIGHT_IRIS: tuple[int, ...] = (468, 469, 470, 471, 472)
"""Centre and ring of the right iris."""

LEFT_IRIS_HORIZONTAL: tuple[int, int] = (474, 476)
"""The left iris's horizontal limbus points: their distance is its visible diameter."""

RIGHT_IRIS_HORIZONTAL: tuple[int, int] = (469, 471)
"""The right iris's horizontal limbus points."""

LEFT_BROW: tuple[int, ...] = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
"""The left eyebrow's points (lower edge then upper edge; use as a convex hull)."""

RIGHT_BROW: tuple[int, ...] = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
"""The right eyebrow's points (as :data:`LEFT_BROW`)."""

LIPS_OUTER: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)  # fmt: skip
"""Outer lip contour in polygon order (the outer ring of FACE_LANDMARKS_LIPS)."""

NOSTRILS: tuple[int, ...] = (98, 97, 2, 326, 327, 60, 99, 20, 79, 240, 290, 328, 250, 309, 460, 19, 94)
"""Ala bases, subnasale and the points around the nostril openings (use as a convex hull)."""

NOSE: tuple[int, ...] = (
    168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97,
    326, 327, 294, 278, 344, 440, 275, 45, 220, 115, 48, 64,
)  # fmt: skip
"""The whole nose: bridge and MediaPipe's lower-nose contour (use as a convex hull)."""

# --- pairs ------------------------------------------------------------------------------------------

FACE_WIDTH: tuple[int, int] = (234, 454)
"""Outermost face-oval points at eye level: their distance is the face's width."""

FACE_HEIGHT: tuple[int, int] = (FOREHEAD_TOP, CHIN)
"""Forehead top and chin: their distance is the face's height."""

# --- measured regions -------------------------------------------------------------------------------

REGION_LANDMARKS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "forehead": (107, 66, 105, 104, 69, 108, 151, 337, 299, 333, 334, 296, 336, 9),
        "left_cheek": (346, 347, 330, 266, 425, 411, 352),
        "right_cheek": (117, 118, 101, 36, 205, 187, 123),
        "chin": (83, 18, 313, 406, 421, 200, 201, 182),
        "nose": (168, 417, 351, 419, 248, 281, 5, 51, 3, 196, 122, 193),
    }
)
"""Landmark indices of each region's polygon, in ring order (see the module table); keys in
:data:`analyzer.vocab.REGION_KEYS` order."""
