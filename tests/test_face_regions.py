"""Region polygons, skin masks and scale on the astronaut photo (analyzer.face.regions).

The astronaut is upscaled x4 (2.9 px/mm) so that every region holds a few thousand pixels.
Landmarks are found once on the clean photo and reused for the edited copies, so that the tests
see only the skin mask's response to the edit."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from mediapipe.tasks.python.vision import FaceLandmarksConnections

from analyzer.colour.spaces import LUMINANCE_WEIGHTS, linear_to_srgb, srgb_to_linear
from analyzer.face.landmarks import FaceLandmarks
from analyzer.face.mesh import REGION_LANDMARKS
from analyzer.face.regions import FaceRegions, _rasterise, iris_diameter_px, locate_regions
from analyzer.measure.chromophores import SIGMA_HEMOGLOBIN
from analyzer.settings import DEFAULT
from analyzer.vocab import FACE_REGIONS, REGION_KEYS

IPD_MM = 63.0  # mean adult interpupillary distance, Dodgson 2004 (range 50-75)


@pytest.fixture(scope="module")
def face(landmarker, astronaut_x4) -> FaceLandmarks:
    return landmarker.detect(astronaut_x4)


@pytest.fixture(scope="module")
def clean(astronaut_x4, face) -> FaceRegions:
    return locate_regions(astronaut_x4, face)


def polygon_masks(regions: FaceRegions) -> dict[str, np.ndarray]:
    return {k: _rasterise(r.polygon, r.mask.shape) for k, r in regions.regions.items()}


def in_polygons(image_shape, regions: FaceRegions) -> np.ndarray:
    """Bool mask over the whole image: pixels inside any region polygon."""
    out = np.zeros(image_shape[:2], bool)
    x0, y0, x1, y1 = regions.box
    for m in polygon_masks(regions).values():
        out[y0:y1, x0:x1] |= m
    return out


def relight(rgb: np.ndarray, factor: np.ndarray | float, where: np.ndarray | None = None) -> np.ndarray:
    """Multiply linear light by ``factor`` (everywhere or inside ``where``), re-encode, clip."""
    lin = srgb_to_linear(rgb / 255.0)
    if where is None:
        lin = lin * np.float32(factor)
    else:
        lin[where] *= np.asarray(factor, np.float32)
    return np.clip(np.round(linear_to_srgb(lin) * 255), 0, 255).astype(np.uint8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def centroid(poly: np.ndarray) -> np.ndarray:
    return poly.mean(axis=0)


def face_oval(points: np.ndarray) -> np.ndarray:
    """MediaPipe's face-oval ring, chained from its connection list."""
    nxt = {c.start: c.end for c in FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL}
    ring = [10]
    while nxt[ring[-1]] != ring[0]:
        ring.append(nxt[ring[-1]])
    return points[ring, :2].astype(np.float32)


# --- geometry ------------------------------------------------------------------------------------


def test_region_table_is_immutable_and_complete():
    assert tuple(REGION_LANDMARKS) == REGION_KEYS
    assert set(FACE_REGIONS) == set(REGION_KEYS) - {"nose"}
    with pytest.raises(TypeError):
        REGION_LANDMARKS["nose"] = (1, 2, 3)  # type: ignore[index]
    for idx in REGION_LANDMARKS.values():
        assert len(set(idx)) == len(idx) >= 3 and all(0 <= i < 468 for i in idx)


def test_every_polygon_lies_inside_the_face_oval(clean, face):
    oval = face_oval(face.points)
    x0, y0 = clean.box[:2]
    for name, region in clean.regions.items():
        for x, y in region.polygon + (x0, y0):
            assert cv2.pointPolygonTest(oval, (float(x), float(y)), False) > 0, name


def test_left_is_the_patients_left(clean, face):
    p = face.points
    # MediaPipe's left eye (263, FACE_LANDMARKS_LEFT_EYE) is on the image right of this
    # non-mirrored photo, and the left cheek is on the same side.
    assert p[263, 0] > p[33, 0]
    left, right = (centroid(clean.regions[k].polygon) for k in ("left_cheek", "right_cheek"))
    assert left[0] > right[0]
    x0, y0 = clean.box[:2]
    c = left + (x0, y0)
    assert np.linalg.norm(c - p[473, :2]) < np.linalg.norm(c - p[468, :2])  # nearer the left iris


def test_nose_sits_between_the_cheeks_clear_of_eyes_and_nostrils(clean, face):
    r = clean.regions
    nose = centroid(r["nose"].polygon)
    assert centroid(r["right_cheek"].polygon)[0] < nose[0] < centroid(r["left_cheek"].polygon)[0]
    x0, y0 = clean.box[:2]
    poly = r["nose"].polygon
    # inner eye corners, nose tip, alae and nostrils are outside
    for i in (133, 362, 4, 1, 48, 278, 64, 294, 98, 327, 2):
        x, y = face.points[i, :2] - (x0, y0)
        assert cv2.pointPolygonTest(poly, (float(x), float(y)), False) < 0, i


def test_forehead_is_above_the_eyes_and_the_chin_below_the_mouth(clean, face):
    x0, y0 = clean.box[:2]
    p = face.points[:, :2] - (x0, y0)
    brows_top = p[[105, 334], 1].min()  # upper edge of the brows
    assert centroid(clean.regions["forehead"].polygon)[1] < brows_top
    assert clean.regions["forehead"].polygon[:, 1].max() < p[[468, 473], 1].min()
    assert clean.regions["chin"].polygon[:, 1].min() > p[17, 1] - 1  # below the lower lip's middle


def test_scale_from_the_iris_is_plausible(clean, face):
    # 11.7 mm iris -> px/mm; then the interpupillary distance should be about 63 mm (+/- 20 %).
    assert clean.px_per_mm == pytest.approx(clean.iris_diameter_px / DEFAULT.iris_diameter_mm)
    ipd_mm = np.linalg.norm(face.points[468, :2] - face.points[473, :2]) / clean.px_per_mm
    assert 0.8 * IPD_MM < ipd_mm < 1.2 * IPD_MM
    # face width 234-454 of an adult: about 120-150 mm
    assert 110 < clean.face_width_px / clean.px_per_mm < 160


def test_iris_diameter_averages_agreeing_eyes_and_trusts_the_wider_otherwise():
    pts = np.zeros((478, 3))
    pts[469, :2], pts[471, :2] = (110.0, 50.0), (100.0, 50.0)  # 10 px
    pts[474, :2], pts[476, :2] = (211.0, 50.0), (200.0, 50.0)  # 11 px
    assert iris_diameter_px(pts) == pytest.approx(10.5)
    pts[474, :2], pts[476, :2] = (205.0, 52.0), (200.0, 50.0)  # half-closed: ~5.4 px
    assert iris_diameter_px(pts) == pytest.approx(10.0)
    with pytest.raises(ValueError):
        iris_diameter_px(np.zeros((468, 3)))


def test_region_records_are_consistent(clean, astronaut_x4):
    x0, y0, x1, y1 = clean.box
    h, w = astronaut_x4.shape[:2]
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    polys = polygon_masks(clean)
    for name, r in clean.regions.items():
        assert r.name == name and r.polygon.dtype == np.float32 and r.polygon.shape[1] == 2
        assert r.mask.shape == (y1 - y0, x1 - x0) and r.mask.dtype == bool
        assert r.polygon_px == polys[name].sum() > 1000
        assert not (r.mask & ~polys[name]).any()  # the mask stays inside its polygon
        assert r.kept_fraction == pytest.approx(r.mask.sum() / r.polygon_px)
        # the polygon (with the margin) is inside the box
        assert r.polygon[:, 0].min() > 0 and r.polygon[:, 0].max() < x1 - x0
        assert r.polygon[:, 1].min() > 0 and r.polygon[:, 1].max() < y1 - y0
    # the clean photo: bangs cover the top of the forehead, a highlight sits on her right
    # cheek and hair on the edge of her left cheek; the rest is skin
    kept = {k: r.kept_fraction for k, r in clean.regions.items()}
    assert 0.6 < kept["forehead"] < 0.9 and kept["nose"] > 0.95 and kept["chin"] > 0.9
    assert all(v > 0.7 for v in kept.values())


def test_polygons_are_disjoint(clean):
    polys = list(polygon_masks(clean).values())
    for i in range(len(polys)):
        for j in range(i + 1, len(polys)):
            assert not (polys[i] & polys[j]).any()


def test_a_region_cut_off_by_the_frame_counts_as_not_visible(astronaut_x4, face, clean):
    x0 = clean.box[0]
    cheek = clean.regions["left_cheek"]
    cut = int(x0 + np.median(cheek.polygon[:, 0]))  # the frame ends mid-cheek
    after = locate_regions(np.ascontiguousarray(astronaut_x4[:, :cut]), face)
    r = after.regions["left_cheek"]
    assert r.polygon_px == cheek.polygon_px  # the whole polygon, also the part outside
    assert r.kept_fraction < 0.6 * cheek.kept_fraction
    assert after.box[2] == cut


def test_uint16_input_gives_the_same_masks(astronaut_x4, face, clean):
    r16 = locate_regions(astronaut_x4.astype(np.uint16) * 257, face)
    for k, r in clean.regions.items():
        np.testing.assert_array_equal(r16.regions[k].mask, r.mask)


# --- the skin mask ------------------------------------------------------------------------------


def test_more_hemoglobin_does_not_change_which_pixels_are_skin(astronaut_x4, face, clean):
    where = in_polygons(astronaut_x4.shape, clean)
    redder = relight(astronaut_x4, np.exp(-0.3 * np.asarray(SIGMA_HEMOGLOBIN)), where)
    # the edit is real: R/G rose by exp(0.3 (0.6838 - 0.2988)) = 1.12 (erythema index +5)
    lin0, lin1 = srgb_to_linear(astronaut_x4[where] / 255.0), srgb_to_linear(redder[where] / 255.0)
    rise = np.median((lin1[:, 0] / lin1[:, 1]) / (lin0[:, 0] / lin0[:, 1]))
    assert rise == pytest.approx(np.exp(0.3 * (0.6838 - 0.2988)), rel=0.02)
    after = locate_regions(redder, face)
    for k, r in clean.regions.items():
        assert iou(r.mask, after.regions[k].mask) > 0.95, k


@pytest.mark.parametrize("exposure", [0.7, 1.3])
def test_exposure_does_not_change_which_pixels_are_skin(astronaut_x4, face, clean, exposure):
    after = locate_regions(relight(astronaut_x4, exposure), face)
    for k, r in clean.regions.items():
        assert iou(r.mask, after.regions[k].mask) > 0.9, k


def test_hair_over_half_the_forehead_is_excluded(astronaut_x4, face, clean):
    x0, y0, x1, y1 = clean.box
    fh = clean.regions["forehead"]
    poly = _rasterise(fh.polygon, fh.mask.shape)
    split = int(np.median(np.nonzero(poly)[1]))
    rows = np.nonzero(poly.any(axis=1))[0]
    band = np.zeros(poly.shape, bool)
    band[: rows.max() + 1, :split] = True  # the image-left half of the forehead, and above
    yy, xx = np.mgrid[0 : y1 - y0, 0 : x1 - x0]
    strands = 1.0 + 0.25 * np.sin((xx + 0.3 * yy) * 2 * np.pi / 5.0)  # brown strands, 5 px apart
    hair = np.clip(np.array([70.0, 48.0, 30.0]) * strands[..., None], 0, 255).astype(np.uint8)
    img = astronaut_x4.copy()
    img[y0:y1, x0:x1][band] = hair[band]

    after = locate_regions(img, face)
    m = after.regions["forehead"].mask
    assert (m & band).sum() == 0
    expected = (fh.mask & ~band).sum() / fh.polygon_px  # the skin left in the other half
    assert after.regions["forehead"].kept_fraction == pytest.approx(expected, abs=0.03)
    assert after.regions["forehead"].kept_fraction < 0.5 * fh.kept_fraction
    for k in ("left_cheek", "right_cheek", "chin", "nose"):
        assert iou(after.regions[k].mask, clean.regions[k].mask) > 0.95


def test_a_white_highlight_on_a_cheek_is_excluded(astronaut_x4, face, clean):
    x0, y0 = clean.box[:2]
    cheek = clean.regions["left_cheek"]
    ys, xs = np.nonzero(cheek.mask)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    spot = np.zeros(cheek.mask.shape, np.uint8)
    cv2.circle(spot, (cx, cy), 8, 1, -1)  # 17 px ~ 6 mm across
    spot = spot.astype(bool)
    assert cheek.mask[spot].all()
    alpha = cv2.GaussianBlur(spot.astype(np.float32), (0, 0), 2.0)[..., None]  # soft edge
    img = astronaut_x4.copy()
    sub = img[y0 : y0 + spot.shape[0], x0 : x0 + spot.shape[1]]
    sub[:] = np.clip(sub * (1 - alpha) + 255 * alpha, 0, 255).astype(np.uint8)

    after = locate_regions(img, face).regions["left_cheek"]
    assert after.mask[spot].mean() < 0.05
    assert after.kept_fraction < cheek.kept_fraction - 0.8 * spot.sum() / cheek.polygon_px


def test_flakes_stay_in_the_mask(astronaut_x4, face, clean):
    """Small whitish specks (1 mm, 1.6x brighter than the skin) are what the flaking measure
    counts: the specular rule must not remove them."""
    x0, y0 = clean.box[:2]
    cheek = clean.regions["left_cheek"]
    ys, xs = np.nonzero(cv2.erode(cheek.mask.view(np.uint8), np.ones((9, 9), np.uint8)))
    rng = np.random.default_rng(1)
    pick = rng.choice(len(ys), 12, replace=False)
    specks = np.zeros(cheek.mask.shape, np.uint8)
    for i in pick:
        cv2.circle(specks, (int(xs[i]), int(ys[i])), 1, 1, -1)  # 3 px across = 1 mm at 2.9 px/mm
    specks = specks.astype(bool)
    where = np.zeros(astronaut_x4.shape[:2], bool)
    where[y0 : y0 + specks.shape[0], x0 : x0 + specks.shape[1]] = specks
    luma = LUMINANCE_WEIGHTS
    lin = srgb_to_linear(astronaut_x4 / 255.0)
    skin = lin[where]
    speck = 0.6 * skin + 0.4 * skin.mean(axis=1, keepdims=True)  # whiter than the skin
    speck *= (1.6 * (skin @ luma) / (speck @ luma))[:, None]  # and 1.6x its luminance
    lin[where] = speck
    img = np.clip(np.round(linear_to_srgb(lin) * 255), 0, 255).astype(np.uint8)

    after = locate_regions(img, face).regions["left_cheek"]
    assert after.mask[specks].mean() > 0.9
    assert after.kept_fraction == pytest.approx(cheek.kept_fraction, abs=0.02)


def test_locate_regions_is_fast_on_a_phone_sized_photo(landmarker, astronaut):
    photo = cv2.resize(astronaut[40:232, 96:352], (2016, 1512), interpolation=cv2.INTER_CUBIC)
    f = landmarker.detect(photo)
    regions = locate_regions(photo, f)
    assert regions.face_width_px > 600  # a close selfie: face ~700 px wide
    times = []
    for _ in range(10):
        t = time.perf_counter()
        locate_regions(photo, f)
        times.append(time.perf_counter() - t)
    ms = 1000 * float(np.median(times))
    print(f"locate_regions on 2016x1512 (face {regions.face_width_px:.0f} px): {ms:.1f} ms")
    assert ms < 100
