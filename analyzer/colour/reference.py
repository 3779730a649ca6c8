r"""The light reference of a photo: the colour of parts of the eye that the treatment does not change.

A relative light correction does not need a white object: it needs an object whose colour stays
the same from one photo of a person to the next.  Under the diagonal (von Kries) model of a
change of light, every surface's linear channels are multiplied by the same gains
``(g_R, g_G, g_B)``, so the log ratios

.. math:: \rho_{RG} = \ln(R/G), \qquad \rho_{BG} = \ln(B/G)

of an unchanging surface move by ``(ln g_R/g_G, ln g_B/g_G)``, the same amount as the skin's.  A
series measures those two numbers on the same parts in every photo and maps each photo onto its
baseline's light (:mod:`analyzer.recovery.relative`).  Exposure cancels in both ratios.

Parts (:data:`analyzer.vocab.REFERENCE_PARTS`), both eyes pooled, sampled in the photo's corrected frame (after
the chart or card-free correction the metrics are measured in):

==========  ================================================================================
part        pixels
==========  ================================================================================
``iris``    the annulus between :data:`IRIS_INNER` and :data:`IRIS_OUTER` limbus radii (no
            pupil, no limbus ring) inside the eye opening; of these the middle of the
            brightness ranks (:data:`IRIS_KEEP`): darker ones are pupil, lashes and lid shadow,
            brighter ones the window and lamp reflected in the cornea (catchlights).
``sclera``  sampled as the card-free ``sclera`` method samples it
            (:data:`~analyzer.colour.balance.SCLERA_SHRINK`,
            :data:`~analyzer.colour.balance.SCLERA_KEEP_BRIGHTEST`): the eye opening outside
            1.2 limbus radii, shrunk towards its centre (lid margins); the brightest part by
            rank below the 97th percentile (glints); vessel outliers (ln R/G above median +
            2.5 MAD) removed.
==========  ================================================================================

Each part records the median of the per-pixel ratios of each eye, and the standard error of a
median over both, ``1.2533 * 1.4826 * MAD / sqrt(n)`` (asymptotic efficiency of the median for
normal scatter).  The eyes see the same light, so between two photos both eyes must move by the
same amount: their disagreement measures what the pixel statistics miss (lid shadow, a
catchlight, colour bled from the skin around a small eye by resampling and JPEG's halved chroma
resolution; :mod:`analyzer.recovery.relative` uses it).  A part needs both eyes and
:data:`MIN_PART_PX` pixels in all, unclipped and not black in the encoded photo.

Why these parts.  The iris pigment (melanin of the stroma and the epithelium) is stable in adults
over years, and the sclera's collagen over weeks; neither is treated by micro-needling.  Both can
change: an irritated eye reddens the sclera, a dilated pupil leaves less iris.  The series
therefore uses a part only when it agrees with the other (:mod:`analyzer.recovery.relative`).
Brows and hair were not taken: the skin between brow hairs reddens with the treated forehead.

Domain and range
----------------
=============  ===================================  ==========================================
quantity       representation                       range
=============  ===================================  ==========================================
log_rg         float, natural log of R/G            iris -0.1 to +0.8; sclera about 0 to +0.4
log_bg         float, natural log of B/G            iris -0.6 to +0.1; sclera about -0.2 to +0.1
se_rg, se_bg   float, same unit                     0.002-0.05 (selfie, many pixels)
px             int, pixels of the decoded photo     >= MIN_PART_PX
=============  ===================================  ==========================================

References
----------
.. [1] J. von Kries, "Die Gesichtsempfindungen" (1905), the diagonal model of adaptation; as a
   model of a change of light for camera sensors, G. D. Finlayson, M. S. Drew and B. V. Funt,
   "Diagonal transforms suffice for color constancy", Proc. ICCV, 164-171 (1993).
.. [2] MediaPipe Face Landmarker iris landmarks (:mod:`analyzer.face.mesh`).
.. [3] Efficiency of the sample median, 2/pi: the standard error of a median of n normal values
   is sqrt(pi/2) sigma / sqrt(n) = 1.2533 sigma / sqrt(n) (e.g. Kendall & Stuart, *The Advanced
   Theory of Statistics*, vol. 1).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..face.mesh import LEFT_EYE, LEFT_IRIS, RIGHT_EYE, RIGHT_IRIS
from ..result import LightReference, PartColour
from .balance import SCLERA_KEEP_BRIGHTEST, SCLERA_SHRINK

__all__ = [
    "IRIS_INNER",
    "IRIS_KEEP",
    "IRIS_OUTER",
    "MIN_PART_PX",
    "eyes_box",
    "measure_light_reference",
]

IRIS_INNER = 0.45
IRIS_OUTER = 0.85
"""Limbus radii between which the iris is sampled (the pupil is 0.2-0.4 of the iris radius in
room light; our choice, with a margin)."""

IRIS_KEEP = (0.15, 0.80)
"""Brightness-rank quantiles of the iris pixels kept (darker: pupil, lashes, shadow; brighter:
catchlights).  Our choice."""

_SCLERA_IRIS_MARGIN = 1.2

MIN_PART_PX = 60
"""Fewest pixels a part needs over both eyes (half of it in each).  With the per-pixel scatter
of ln R/G seen on the sample faces (MAD about 0.05-0.15), 60 pixels give a standard error of
0.01-0.03 (0.4-1.3 EI); the series weighs each part by its uncertainty."""

_MEDIAN_SE = 1.2533 * 1.4826
"""Standard error of a median per MAD / sqrt(n), for normal scatter (see the module)."""


def eyes_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around both eye openings and irises, clipped to the image; None if empty.

    ``points`` are the 478 landmarks in the image's pixels, ``shape`` its (height, width)."""
    idx = list(LEFT_EYE + RIGHT_EYE + LEFT_IRIS + RIGHT_IRIS)
    xy = np.asarray(points, np.float64)[idx, :2]
    x0, y0 = np.floor(xy.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int) + 3
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, shape[1]), min(y1, shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def _fill(shape: tuple[int, int], poly: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(poly * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return m.astype(bool)


def _disc(shape: tuple[int, int], centre: np.ndarray, radius: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, tuple(np.round(centre * 16).astype(int)), max(1, round(radius * 16)), 1, -1, cv2.LINE_8, 4)
    return m.astype(bool)


def _rank_window(bright: np.ndarray, lo: float, hi: float) -> np.ndarray:
    a, b = np.quantile(bright, [lo, hi])
    return (bright >= a) & (bright <= b)


def _median_and_se(v: np.ndarray) -> tuple[float, float]:
    med = float(np.median(v))
    return med, float(_MEDIAN_SE * np.median(np.abs(v - med)) / np.sqrt(len(v)))


def _part_colour(per_eye: list[np.ndarray]) -> PartColour | None:
    """Each eye's medians and the pooled standard errors; None unless both eyes give
    MIN_PART_PX / 2 pixels."""
    if len(per_eye) != 2 or min(len(e) for e in per_eye) < MIN_PART_PX // 2:
        return None
    ratios = [np.stack([e[:, 0] - e[:, 1], e[:, 2] - e[:, 1]], axis=1) for e in per_eye]
    left, right = (tuple(float(v) for v in np.median(r, axis=0)) for r in ratios)
    pooled = np.concatenate(ratios)
    se = [_median_and_se(pooled[:, k])[1] for k in (0, 1)]
    return PartColour(left=left, right=right, se_rg=se[0], se_bg=se[1], px=len(pooled))


def measure_light_reference(
    linear: np.ndarray, valid: np.ndarray, points: np.ndarray, origin: tuple[int, int] = (0, 0)
) -> LightReference:
    """Measure the reference parts of one photo (see the module).

    Parameters
    ----------
    linear : ndarray of float32, shape (h, w, 3)
        Corrected linear sRGB of a crop of the photo holding both eyes (:func:`eyes_box`).
    valid : ndarray of bool, shape (h, w)
        Pixels whose channels were recorded within range (not clipped, not black).
    points : ndarray of float, shape (478, 2 or 3)
        Landmarks in the photo's pixels.
    origin : (int, int)
        (x0, y0) of the crop in the photo.

    Returns
    -------
    LightReference
        With the parts that had at least :data:`MIN_PART_PX` pixels.

    Raises
    ------
    ValueError
        Shapes that do not match.
    """
    if linear.ndim != 3 or linear.shape[2] != 3 or valid.shape != linear.shape[:2]:
        raise ValueError(f"linear (h, w, 3) and valid (h, w) must match, got {linear.shape} and {valid.shape}")
    pts = np.asarray(points, np.float64)[:, :2] - np.asarray(origin, np.float64)
    iris_logs, sclera_logs = [], []
    for eye, iris in ((LEFT_EYE, LEFT_IRIS), (RIGHT_EYE, RIGHT_IRIS)):
        centre = pts[iris[0]]
        radius = float(np.mean(np.linalg.norm(pts[list(iris[1:])] - centre, axis=1)))
        if radius < 1.0:
            continue
        # Work on this eye's own box: the opening and the iris disc.
        ext = np.vstack([pts[list(eye)], centre - radius, centre + radius])
        x0, y0 = np.maximum(np.floor(ext.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(ext.max(axis=0)).astype(int) + 2, linear.shape[1::-1])
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        lin, ok = linear[y0:y1, x0:x1], valid[y0:y1, x0:x1]
        shape, off = lin.shape[:2], np.array([x0, y0], np.float64)
        poly, c = pts[list(eye)] - off, centre - off
        opening = _fill(shape, poly) & ok
        annulus = _disc(shape, c, IRIS_OUTER * radius) & ~_disc(shape, c, IRIS_INNER * radius)
        px = np.log(np.maximum(lin[opening & annulus], 1e-6))
        if len(px) >= 4:
            iris_logs.append(px[_rank_window(px.mean(axis=1), *IRIS_KEEP)].astype(np.float64))
        mid = poly.mean(axis=0)
        shrunk = mid + (poly - mid) * np.array([1 - 0.4 * SCLERA_SHRINK, 1 - SCLERA_SHRINK])
        white = _fill(shape, shrunk) & ok & ~_disc(shape, c, _SCLERA_IRIS_MARGIN * radius)
        px = np.log(np.maximum(lin[white], 1e-6))
        if len(px) >= 4:
            px = px[_rank_window(px.mean(axis=1), 1 - SCLERA_KEEP_BRIGHTEST, 0.97)]
            red = px[:, 0] - px[:, 1]
            med = np.median(red)
            mad = 1.4826 * np.median(np.abs(red - med)) + 1e-9
            sclera_logs.append(px[red <= med + 2.5 * mad].astype(np.float64))
    parts = {name: c for name, c in (("iris", _part_colour(iris_logs)), ("sclera", _part_colour(sclera_logs)))
             if c is not None}
    return LightReference(parts)

