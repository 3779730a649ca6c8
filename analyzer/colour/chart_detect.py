"""Finding a ColorChecker Classic in a photo and measuring its 24 patches.

:func:`find_chart` returns the patches' linear means; :func:`detect_and_fit` also fits the
correction (:func:`analyzer.colour.chart.fit_correction`) and rejects a poor find.

Domain and range
----------------
=======================  ===========================================  ===========================
quantity                 representation                               range / unit
=======================  ===========================================  ===========================
photo                    uint8 or uint16 encoded sRGB, (H, W, 3), RGB  full code range
measured patches         float64 linear sRGB, (24, 3), X-Rite order   [0, 1]; NaN = unusable
corners                  float32, (4, 2), (x, y)                      photo pixels
=======================  ===========================================  ===========================

Search (:func:`find_chart`)
---------------------------
1. *Squares*: a grey copy with long side ``long_side`` (fast bilinear + 2x2 box downscale), one
   adaptive threshold (mean over ~2 patch sides, offset 5 grey levels: the frame and gaps are
   darker than their surroundings) and one contour pass; holes that are square (min-area
   rectangle sides within 0.6, filled >= 80 %) and at least as large as the patches of a chart
   1/6 of the short side wide are kept (one per centre: a patch whose frame thresholds as its
   own ring gives two concentric contours).
2. *Groups*: squares of similar size (within 1.6x) whose centres are at most 1.9 sides apart,
   connected; groups of 6-36 squares are chart candidates.  A photo without one costs only
   steps 1-2 (3-7 ms at 1000 px, see tests).
3. *Lattice*: pitch = median nearest-neighbour distance, angle = circular mean of 4x the
   neighbour directions; every square gets integer lattice coordinates, refined by refitting a
   homography (perspective) twice.
4. *Placement*: every rotation (0/90/180/270 degrees; a chart is never seen mirrored) and offset
   of the 6 x 4 grid that covers the squares found, all but at most 3 of them (or of 24 when
   more were found: background squares in line with the chart; a dark, textured uniform behind
   the card made 16 of 108 renders of the held-out face miss), is tried; the 24 patch centres
   are sampled (3 x 3 px) on the small copy and the placement with the lowest
   weighted-least-squares residual is kept (this also identifies the orientation; none below 15 CIEDE2000 -> no chart).
5. *Measurement* at full resolution: each patch is averaged over the inner 0.5 x 0.5 pitch
   (the patch is about 0.86 pitch), in linear light (decoded through the sRGB look-up table,
   never averaged encoded), after dropping the 10 % darkest and 10 % brightest pixels; a patch
   with more than 2 % clipped pixels is NaN.

``cv2.mcc.CCheckerDetector`` was tried first and dropped: on this machine it costs 35 ms per
1000 px photo with its defaults (it upscales any image whose short side is below
``minImageSize`` = 1000 px and runs 9 threshold passes), still 13 ms with one pass, and on
candidate crops its result flipped between correct, a degenerate chart and no chart when the
crop size changed by one pixel (7 % misses or wrong charts in 60 random scenes, against 0 of
140 for the lattice search above).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import cv2
import numpy as np

from .._resample import exact_reduction
from .chart import DEFAULT_FIT_METHOD, ChartFit, fit_correction, validate_fit_method
from .datasets import COLORCHECKER24
from .spaces import encoded_to_linear

__all__ = [
    "CHART_DETECTORS",
    "MIN_CHART_FRACTION",
    "find_chart",
    "detect_and_fit",
]


MIN_CHART_FRACTION = 1.0 / 6.0
"""Smallest chart searched for: its width as a fraction of the image's SHORT side (selfies are
usually portrait, so 'image width' is taken as the short side)."""

_PITCH_PER_CHART_WIDTH = 6.5
"""A ColorChecker Classic is about 6.5 patch pitches wide including its frame (279 mm / 43 mm)."""

_PATCH_PER_PITCH = 0.86
"""Patch side / patch pitch of the Classic chart (and of the defaults of
:func:`~analyzer.colour.datasets.render_chart`)."""

_MIN_GROUP = 6
"""Square contours that must form one lattice for a region to count as a chart candidate."""

_MAX_GROUP = 36
"""Larger groups of squares (tiled walls, windows) are not a 24-patch chart and are skipped."""

_SCREEN_C = 5.0
"""Offset of the adaptive threshold, grey levels (cv2.mcc uses 7 on a denoised image)."""

_SAMPLE_HALF = 0.25
"""Half side of the averaged square, in patch pitches: the inner 0.5 x 0.5 pitch of a patch
whose side is 0.86 pitch leaves 0.18 pitch of margin on every side for misregistration."""

_TRIM = 0.10
"""Fraction of pixels dropped at each end (ordered by R+G+B) before a patch is averaged."""

_MAX_CLIPPED = 0.02
"""Fraction of clipped pixels above which a patch is NaN."""

_MAX_STRAYS = 3
"""Squares of a lattice group (of at most 24) that a placed chart may leave uncovered; squares
beyond 24 are strays anyway (background squares in line with the chart)."""

_MAX_SCREEN_RESIDUAL = 15.0
"""Mean CIEDE2000 of the best placement on the search copy above which there is no chart."""

_GRID_CORNERS = np.array([[-0.5, -0.5], [5.5, -0.5], [5.5, 3.5], [-0.5, 3.5]], np.float32)
"""Corners of the patch grid in grid units (patch centres at integer (column, row))."""


def _check_photo(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"rgb must be a uint8 or uint16 ndarray, got {getattr(rgb, 'dtype', type(rgb))}")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must have shape (H, W, 3), got {rgb.shape}")


def _downscale(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """A copy with the long side at most about ``long_side``, same dtype.

    Exactly by an integer factor when one lands within 2 % (a 12 MP photo decoded at half size:
    :func:`analyzer._resample.exact_reduction`, 0.3 ms); else bilinear (to twice the target and
    then an exact 2 x 2 box average when shrinking more than 2x): about 1 ms from 12 MP, where a
    direct ``INTER_AREA`` resize costs 3-13 ms.  Aliasing does not matter here: the copy is only
    searched, the patches are measured at full resolution.
    """
    h, w = rgb.shape[:2]
    f = long_side / max(h, w)
    if f >= 1.0:
        return rgb
    exact = exact_reduction(rgb, long_side)
    if exact is not None:
        return exact
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if f >= 0.5:
        return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    big = cv2.resize(rgb, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(big, size, interpolation=cv2.INTER_AREA)


def _squares(gray: np.ndarray, min_side: float, max_side: float) -> np.ndarray:
    """Dark-framed bright squares: (n, 3) float64 rows (x, y, side) in ``gray`` px.

    Pixels darker than their neighbourhood mean (block ~ 2 patch sides) are the chart's frame;
    its holes are the patches (one threshold and one contour pass, as one scale of cv2.mcc).
    Contours are first screened by their bounding boxes in one vectorised step (a textured
    photo has thousands), then by area, squareness and fill of their minimum-area rectangle.
    """
    block = max(3, int(2 * min_side) | 1)
    bw = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, _SCREEN_C)
    contours, _ = cv2.findContours(bw, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 3))
    lens = np.fromiter(map(len, contours), int, len(contours))
    cand = np.nonzero(lens >= 4)[0]
    if len(cand) == 0:
        return np.zeros((0, 3))
    pts = np.concatenate([contours[i] for i in cand]).reshape(-1, 2)
    starts = np.concatenate([[0], np.cumsum(lens[cand])[:-1]])
    bw_ = np.maximum.reduceat(pts[:, 0], starts) - np.minimum.reduceat(pts[:, 0], starts) + 1
    bh_ = np.maximum.reduceat(pts[:, 1], starts) - np.minimum.reduceat(pts[:, 1], starts) + 1
    lo, hi = np.minimum(bw_, bh_), np.maximum(bw_, bh_)
    cand = cand[(lo >= 0.7 * min_side) & (hi <= 1.5 * max_side) & (lo >= 0.5 * hi)]
    out = []
    amin, amax = 0.5 * min_side**2, max_side**2
    for i in cand:
        c = contours[i]
        area = cv2.contourArea(c)
        if not amin <= area <= amax:
            continue
        (cx, cy), (rw, rh), _ = cv2.minAreaRect(c)
        if min(rw, rh) < 0.6 * max(rw, rh) or area < 0.8 * rw * rh:
            continue
        out.append((cx, cy, np.sqrt(area)))
    return _one_per_centre(np.asarray(out, np.float64).reshape(-1, 3))


def _one_per_centre(sq: np.ndarray) -> np.ndarray:
    """Keep the smallest of squares whose centres lie within 0.25 side of each other.

    When the frame around each patch thresholds as its own thin ring (a chart filling the
    search copy), a patch yields two contours, the ring's hole and its outside, with one
    centre; counted twice, the 24 patches would look like a 48-square tiled wall."""
    if len(sq) < 2:
        return sq
    rank = np.empty(len(sq), int)
    rank[np.argsort(sq[:, 2], kind="stable")] = np.arange(len(sq))  # smaller first, ties by index
    near = np.linalg.norm(sq[:, None, :2] - sq[None, :, :2], axis=2) < 0.25 * sq[:, 2:3]
    beaten = (near & (rank[None, :] < rank[:, None])).any(1)  # a smaller square at my centre
    return sq[~beaten]


def _groups(sq: np.ndarray) -> list[np.ndarray]:
    """Indices of squares of similar size about one pitch apart (connected), largest first."""
    if len(sq) < _MIN_GROUP:
        return []
    xy, side = sq[:, :2], sq[:, 2]
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    similar = np.abs(np.log(side[:, None] / side[None])) < np.log(1.6)
    linked = similar & (dist < 1.9 * np.maximum(side[:, None], side[None]))
    labels = -np.ones(len(sq), int)
    k = 0
    for i in range(len(sq)):
        if labels[i] >= 0:
            continue
        labels[i] = k
        stack = [i]
        while stack:
            nxt = np.nonzero(linked[stack.pop()] & (labels < 0))[0]
            labels[nxt] = k
            stack.extend(nxt.tolist())
        k += 1
    groups = [np.nonzero(labels == g)[0] for g in range(k)]
    return sorted((g for g in groups if _MIN_GROUP <= len(g) <= _MAX_GROUP), key=len, reverse=True)


def _fit_lattice(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer lattice coordinates of square centres and the lattice -> image homography.

    The pitch is the median nearest-neighbour distance, the lattice angle the circular mean of
    4x the neighbour directions; coordinates are rounded and refined by refitting a homography
    twice (perspective).  Returns (homography (3, 3), ab (m, 2) int of the m squares kept, i.e.
    within 0.3 pitch of a lattice point and alone on it) or None.
    """
    d = xy[:, None] - xy[None]
    dist = np.linalg.norm(d, axis=2)
    np.fill_diagonal(dist, np.inf)
    pitch = float(np.median(dist.min(1)))
    near = dist < 1.4 * pitch
    if not near.any():
        return None
    v = d[near]
    alpha = np.angle(np.mean(np.exp(4j * np.arctan2(v[:, 1], v[:, 0])))) / 4
    ca, sa = np.cos(alpha), np.sin(alpha)
    k0 = int(np.argmin(np.linalg.norm(xy - xy.mean(0), axis=1)))
    rel = xy - xy[k0]
    q = np.stack([rel @ (ca, sa), rel @ (-sa, ca)], 1) / pitch
    keep = np.ones(len(xy), bool)
    hom = None
    for _ in range(3):
        ab = np.round(q)
        resid = np.linalg.norm(q - ab, axis=1)
        keep = resid < 0.3
        # one square per lattice point: the one closest to it
        for key in {tuple(r) for r in ab[keep]}:
            same = np.nonzero(keep & (ab == key).all(1))[0]
            if len(same) > 1:
                keep[same[np.argsort(resid[same])[1:]]] = False
        if keep.sum() < _MIN_GROUP:
            return None
        hom, _ = cv2.findHomography(ab[keep].astype(np.float32), xy[keep].astype(np.float32), 0)
        if hom is None:
            return None
        q = cv2.perspectiveTransform(xy[None].astype(np.float64), np.linalg.inv(hom))[0]
    ab = np.round(q).astype(int)
    keep &= np.linalg.norm(q - ab, axis=1) < 0.3
    return hom, ab[keep]


def _placements(ab: np.ndarray, strays: int = 0) -> list[np.ndarray]:
    """Every way the 6 x 4 chart can cover the observed lattice points: grid -> lattice (3, 3).

    Rotations by 0, 90, 180 and 270 degrees (no mirror images: a chart is seen from the front),
    and every offset that covers all but at most ``strays`` of the observed points, or of 24
    when more were observed (squares of the background that line up with the chart's lattice,
    e.g. on a dark uniform next to it), and at least :data:`_MIN_GROUP` of them.
    """
    amin, bmin = ab.min(0)
    amax, bmax = ab.max(0)
    need = max(_MIN_GROUP, min(len(ab), 24) - strays)
    out = []
    # (column, row) -> (a, b) for the four rotations, before the offset
    rotations = (
        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),  # 0 deg
        np.array([[-1, 0, 5], [0, -1, 3], [0, 0, 1]]),  # 180 deg
        np.array([[0, -1, 3], [1, 0, 0], [0, 0, 1]]),  # 90 deg (chart portrait)
        np.array([[0, 1, 0], [-1, 0, 5], [0, 0, 1]]),  # 270 deg
    )
    for rot in rotations:
        wa, wb = (6, 4) if rot[0, 0] != 0 else (4, 6)
        for oa in range(amin - wa + 1, amax + 1):
            for ob in range(bmin - wb + 1, bmax + 1):
                on = (ab[:, 0] >= oa) & (ab[:, 0] < oa + wa) & (ab[:, 1] >= ob) & (ab[:, 1] < ob + wb)
                if on.sum() < need:
                    continue
                shift = np.array([[1, 0, oa], [0, 1, ob], [0, 0, 1]])
                out.append((shift @ rot).astype(np.float64))
    return out


def _grid_centres() -> np.ndarray:
    """Patch centres in grid units, X-Rite order: (column, row), shape (24, 2)."""
    r, c = np.divmod(np.arange(24), COLORCHECKER24.columns)
    return np.stack([c, r], 1).astype(np.float32)


def _sample_small(img: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Linear 3 x 3 px means at the 24 patch centres of an encoded image (NaN outside it)."""
    h, w = img.shape[:2]
    c = np.round(cv2.perspectiveTransform(_grid_centres()[None].astype(np.float64), hom)[0]).astype(int)
    out = np.full((24, 3), np.nan)
    inside = (c[:, 0] >= 1) & (c[:, 1] >= 1) & (c[:, 0] < w - 1) & (c[:, 1] < h - 1)
    for i in np.nonzero(inside)[0]:
        x, y = c[i]
        out[i] = encoded_to_linear(img[y - 1 : y + 2, x - 1 : x + 2]).reshape(-1, 3).mean(0)
    return out


def _quick_residual(meas: np.ndarray) -> float:
    """Mean CIEDE2000 of a weighted least-squares fit (inf when too few patches)."""
    try:
        return fit_correction(
            meas, method="weighted_least_squares", outlier_delta_e00=np.inf
        ).residual_delta_e00
    except ValueError:
        return np.inf


def _measure(rgb: np.ndarray, hom: np.ndarray) -> np.ndarray:
    """Robust linear means of the 24 patches at full resolution (grid -> image homography).

    Each patch: the pixels inside the inner 0.5 x 0.5 pitch square, decoded to linear light,
    ordered by R+G+B, 10 % dropped at each end, averaged.  NaN when the square leaves the image
    or more than 2 % of its pixels are clipped (a channel at the top code, or all channels 0).
    """
    top = 255 if rgb.dtype == np.uint8 else 65535
    h, w = rgb.shape[:2]
    out = np.full((24, 3), np.nan)
    d = _SAMPLE_HALF
    square = np.array([[-d, -d], [d, -d], [d, d], [-d, d]], np.float32)
    for i, centre in enumerate(_grid_centres()):
        pts = cv2.perspectiveTransform((square + centre)[None], hom)[0]
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((pts - (x0, y0)) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        px = rgb[y0:y1, x0:x1][mask.astype(bool)]
        if len(px) < 4:
            continue
        clipped = ((px >= top).any(1) | (px == 0).all(1)).mean()
        if clipped > _MAX_CLIPPED:
            continue
        lin = encoded_to_linear(px).astype(np.float64)
        order = np.argsort(lin.sum(1))
        k = int(len(order) * _TRIM)
        out[i] = lin[order[k : len(order) - k]].mean(0)
    return out


def _locate(rgb: np.ndarray, long_side: int) -> np.ndarray | None:
    """Grid -> full-resolution homography of the chart, or None."""
    # 8 bits first, so a 16-bit photo is searched exactly as its 8-bit rendering
    small = _downscale(rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8), long_side)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    short = min(gray.shape)
    min_pitch = short * MIN_CHART_FRACTION / _PITCH_PER_CHART_WIDTH
    sq = _squares(gray, 0.6 * _PATCH_PER_PITCH * min_pitch, max(gray.shape) / _PITCH_PER_CHART_WIDTH)
    groups = _groups(sq)
    if not groups:
        return None
    # small -> full pixel coordinates (pixel centres at integers, as cv2.resize aligns them)
    sx, sy = rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0]
    to_full = np.array([[sx, 0, 0.5 * (sx - 1)], [0, sy, 0.5 * (sy - 1)], [0, 0, 1.0]])
    for idx in groups[:2]:
        lattice = _fit_lattice(sq[idx, :2])
        if lattice is None:
            continue
        hom_lat, ab = lattice
        best, best_res = None, _MAX_SCREEN_RESIDUAL
        for place in _placements(ab, _MAX_STRAYS):
            hom = hom_lat @ place
            res = _quick_residual(_sample_small(small, hom))
            if res < best_res:
                best, best_res = hom, res
        if best is not None:
            return to_full @ best
    return None


def _locate_mcc(rgb: np.ndarray, long_side: int) -> np.ndarray | None:
    """Grid-to-pixel homography from OpenCV's ``cv2.mcc`` detector (MCC24), or None.

    The patch centres ``cv2.mcc`` reports (``getColorCharts``: 4 corners per patch, X-Rite
    order) are mapped onto :func:`_grid_centres` by a homography, so measurement and fit are
    the same as for the lattice search."""
    f = min(1.0, long_side / max(rgb.shape[:2]))
    small = rgb if f >= 1.0 else cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    if small.dtype != np.uint8:
        small = (small >> 8).astype(np.uint8)
    det = cv2.mcc.CCheckerDetector.create()
    det.setColorChartType(cv2.mcc.MCC24)
    if not det.process(np.ascontiguousarray(small[..., ::-1]), 1):
        return None
    quads = np.asarray(det.getBestColorChecker().getColorCharts(), np.float64).reshape(-1, 4, 2)
    if quads.shape[0] != 24:
        return None
    hom, _ = cv2.findHomography(_grid_centres().astype(np.float64), quads.mean(axis=1) / f)
    return hom


CHART_DETECTORS: Mapping[str, Callable[[np.ndarray, int], np.ndarray | None]] = MappingProxyType(
    {"lattice": _locate, "mcc": _locate_mcc}
)
"""Chart detectors: name -> ``f(rgb, long_side) -> homography (3, 3) from grid units to rgb
pixels, or None``.  ``"lattice"`` (default) is the search described in the module docstring;
``"mcc"`` is OpenCV's ``cv2.mcc.CCheckerDetector`` (MCC24), kept selectable for comparison:
slower and less reliable here (see the module docstring)."""


def find_chart(
    rgb: np.ndarray, *, long_side: int = 1000, detector: str = "lattice"
) -> tuple[np.ndarray, np.ndarray] | None:
    """Find a ColorChecker 24 in a photo and measure its patches.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB, RGB order, full resolution.
    long_side : int
        The search runs on a copy downscaled to this long side, px
        (``Settings.chart_search_long_side``); the patches are measured at full resolution.
    detector : str
        A key of :data:`CHART_DETECTORS` (``Settings.chart_detector``).

    Returns
    -------
    (measured, corners) or None
        measured : ndarray of float64, shape (24, 3): linear sRGB patch means in X-Rite order,
        averaged over the inner half of each patch pitch at full resolution; NaN rows where more
        than 2 % of the pixels are clipped.  corners : ndarray of float32, shape (4, 2): (x, y)
        of the patch grid's corners in ``rgb`` pixels, next to dark skin, bluish green, black 2,
        white 9.5.  None when no chart is found.

    Raises
    ------
    TypeError
        ``rgb`` is not a uint8 or uint16 ndarray.
    ValueError
        ``rgb`` is not (H, W, 3).
    """
    _check_photo(rgb)
    if detector not in CHART_DETECTORS:
        raise ValueError(f"unknown chart detector {detector!r}; valid: {', '.join(CHART_DETECTORS)}")
    hom = CHART_DETECTORS[detector](rgb, long_side)
    if hom is None:
        return None
    corners = cv2.perspectiveTransform(_GRID_CORNERS[None].astype(np.float64), hom)[0].astype(np.float32)
    return _measure(rgb, hom), corners


def detect_and_fit(
    rgb: np.ndarray,
    *,
    long_side: int = 1000,
    method: str = DEFAULT_FIT_METHOD,
    max_residual: float = 10.0,
    detector: str = "lattice",
) -> ChartFit | None:
    """Find a chart and fit the correction; None when there is no usable chart.

    Parameters
    ----------
    rgb : ndarray of uint8 or uint16, shape (H, W, 3)
        Encoded sRGB photo, RGB order.
    long_side : int
        Search scale, see :func:`find_chart`.
    method : str
        Fit method, a key of :data:`FIT_METHODS`.
    max_residual : float
        Mean CIEDE2000 above which the find is rejected (not a chart, or not usable).

    Returns
    -------
    ChartFit or None
    """
    validate_fit_method(method)
    found = find_chart(rgb, long_side=long_side, detector=detector)
    if found is None:
        return None
    measured, corners = found
    try:
        fit = fit_correction(measured, corners, method=method)
    except ValueError:
        return None
    if not fit.residual_delta_e00 <= max_residual:
        return None
    return fit
