"""analyze_photo end to end on a real face photo (NASA's public-domain astronaut portrait).

Known changes in, expected responses out: more hemoglobin => more redness; brighter or dimmer
light => the same redness; a colour cast with a chart in the frame => found and corrected.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from analyzer import PhotoResult, analyze_photo
from analyzer.colour.datasets import render_chart
from analyzer.colour.spaces import linear_to_srgb, srgb_to_linear
from analyzer.face.regions import locate_regions
from analyzer.measure.chromophores import add_chromophores
from analyzer.portrait import demo_face
from analyzer.result import METRIC_KEYS, REGION_KEYS
from analyzer.settings import DEFAULT

DAY1_OD = 0.3
"""Day-1 effect used throughout: +0.3 optical density of hemoglobin (issue 2)."""


def encode_png(linear: np.ndarray, fmt: str = "PNG") -> bytes:
    rgb = (linear_to_srgb(linear) * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return demo_face(2)  # 1024 x 1024 uint8 RGB


BASE_EXPOSURE = 0.7
"""The astronaut portrait is exposed near the top of the range (skin red channel up to 250/255),
so x1.3 of it clips 67 % of the skin: an overexposed photo the quality gate rejects (tested
below).  The exposure tests start from a well-exposed version with headroom, 0.7 x the original,
as a phone's auto-exposure would give."""


@pytest.fixture(scope="module")
def face_linear(face) -> np.ndarray:
    return srgb_to_linear(face / 255.0) * BASE_EXPOSURE


def injection_weight(face: np.ndarray, landmarker, grow_px: int, sigma_px: float) -> np.ndarray:
    """Where to inject hemoglobin: the region polygons, grown by ``grow_px`` and feathered by a
    Gaussian of ``sigma_px``, as the sample generator does (a smooth dose, 1 inside the skin
    regions, 0 away from them).  (H, W) float32."""
    regions = locate_regions(face, landmarker.detect(face))
    x0, y0, _, _ = regions.box
    w = np.zeros(face.shape[:2], np.float32)
    for r in regions.regions.values():
        cv2.fillPoly(w, [np.round(r.polygon + (x0, y0)).astype(np.int32)], 1.0)
    w = cv2.dilate(w, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)))
    return cv2.GaussianBlur(w, (0, 0), sigma_px)


@pytest.fixture(scope="module")
def skin_weight(face, landmarker) -> np.ndarray:
    return injection_weight(face, landmarker, grow_px=8, sigma_px=4)


def redness_at(az, face_linear, weight, dose=0.0, exposure=1.0) -> PhotoResult:
    lin = add_chromophores(face_linear, d_hemoglobin=dose * weight) * exposure
    r = az.analyze(encode_png(lin), name=f"dose{dose}_exp{exposure}")
    assert r.ok, r.error
    return r


def test_result_matches_the_json_contract(az, face):
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, "JPEG", quality=92)
    d = az.analyze(buf.getvalue()).to_dict()
    assert d["ok"] is True and "error" not in d
    assert set(d) >= {
        "file",
        "ok",
        "captured_at",
        "width",
        "height",
        "quality",
        "calibration",
        "scale_px_per_mm",
        "face",
        "regions",
        "analyzer_version",
    }
    assert (d["width"], d["height"]) == (1024, 1024)
    assert set(d["quality"]) == {"ok", "issues"}
    assert set(d["calibration"]) == {"method", "chart_found", "residual_delta_e00"}
    assert set(d["face"]) == set(METRIC_KEYS)
    assert set(d["regions"]) == set(REGION_KEYS)
    for region in d["regions"].values():
        assert set(region) == set(METRIC_KEYS)
        assert all(isinstance(region[k], float) for k in ("redness", "hemoglobin", "melanin", "a_star"))
    # Scale from the iris (11.7 mm): the astronaut's face, 2x upscaled, is about 1.5-4 px/mm.
    assert 1.0 < d["scale_px_per_mm"] < 5.0


def test_redness_and_hemoglobin_rise_strictly_with_injected_hemoglobin(az, face_linear, skin_weight):
    doses = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
    results = [redness_at(az, face_linear, skin_weight, d) for d in doses]
    redness = [r.face.redness for r in results]
    hemoglobin = [r.face.hemoglobin for r in results]
    print("\nHb dose (OD)  face.redness  face.hemoglobin")
    for d, e, h in zip(doses, redness, hemoglobin):
        print(f"{d:10.2f}  {e:12.3f}  {h:15.4f}")
    assert np.all(np.diff(redness) > 0), redness
    assert np.all(np.diff(hemoglobin) > 0), hemoglobin
    # Beer-Lambert: +0.1 OD of hemoglobin raises EI by 100*0.1*(0.6838-0.2988)/ln 10 = 1.672.
    slope = (redness[-1] - redness[0]) / (doses[-1] - doses[0]) * 0.1
    assert slope == pytest.approx(1.672, rel=0.15)
    assert hemoglobin[-1] - hemoglobin[0] == pytest.approx(DAY1_OD, rel=0.1)
    for name in ("forehead", "left_cheek", "right_cheek", "chin"):
        assert results[-1].regions[name].redness > results[0].regions[name].redness


def test_exposure_moves_redness_by_less_than_5_percent_of_the_day1_effect(az, face_linear, skin_weight):
    base = redness_at(az, face_linear, skin_weight).face.redness
    effect = redness_at(az, face_linear, skin_weight, DAY1_OD).face.redness - base
    print(f"\n+{DAY1_OD} OD hemoglobin moves face.redness by {effect:.3f}")
    for k in (0.7, 1.3):
        shifted = redness_at(az, face_linear, skin_weight, exposure=k).face.redness
        share = abs(shifted - base) / effect * 100
        print(f"exposure x{k}: face.redness {shifted:.3f} vs {base:.3f} = {share:.2f} % of the day-1 effect")
        assert share < 5.0


def test_exposure_with_the_sclera_balance_at_selfie_resolution(az, landmarker):
    """The same criterion with the default card-free balance active (astronaut x6: face >= 4 px/mm
    and enough sclera pixels): exposure x0.7 and x1.3 move face.redness by < 5 % of the day-1
    effect, and the day-1 effect itself survives the balance."""
    big = demo_face(6)
    lin = srgb_to_linear(big / 255.0) * np.float32(0.5)
    w = injection_weight(big, landmarker, grow_px=25, sigma_px=12)
    base = az.analyze(encode_png(lin, "JPEG"))
    effect = az.analyze(encode_png(add_chromophores(lin, d_hemoglobin=DAY1_OD * w), "JPEG")).face.redness
    effect -= base.face.redness
    assert base.calibration.method == "sclera"
    print(f"\nsclera balance, x6: +{DAY1_OD} OD moves face.redness by {effect:.3f}")
    assert effect == pytest.approx(5.0, rel=0.1)
    for k in (0.7, 1.3):
        shifted = az.analyze(encode_png(lin * np.float32(k), "JPEG")).face.redness
        share = abs(shifted - base.face.redness) / effect * 100
        print(f"exposure x{k}: {shifted:.3f} vs {base.face.redness:.3f} = {share:.2f} % of the day-1 effect")
        assert share < 5.0


def test_overexposure_that_clips_the_skin_is_rejected_by_the_quality_gate(az, face_linear):
    r = az.analyze(encode_png(face_linear / BASE_EXPOSURE * 1.3), name="bright.png")
    assert r.ok and not r.quality.ok
    assert "overexposed" in [i.code for i in r.quality.issues]


def test_chart_under_a_colour_cast_is_found_and_corrected(az, face_linear):
    """A ColorChecker beside the face, the whole scene under a warm cast: the chart is found,
    its residual dE00 is small, and the face's redness returns to the uncast value."""
    canvas = np.full((1024, 1600, 3), 0.18, np.float32)
    canvas[:, :1024] = face_linear
    chart = srgb_to_linear(render_chart(patch_px=50, gap_px=8) / 255.0)
    ch, cw = chart.shape[:2]
    canvas[600 : 600 + ch, 1080 : 1080 + cw] = chart
    plain = az.analyze(encode_png(canvas), name="neutral+chart")
    warm = az.analyze(encode_png(canvas * np.array([1.25, 1.0, 0.7], np.float32)), name="warm+chart")
    assert plain.ok and warm.ok
    print(
        f"\nchart residual dE00: neutral {plain.calibration.residual_delta_e00:.2f}, "
        f"warm cast {warm.calibration.residual_delta_e00:.2f}; face.redness {plain.face.redness:.3f} "
        f"vs {warm.face.redness:.3f}"
    )
    assert warm.calibration.chart_found and warm.calibration.method == "colorchecker"
    assert warm.calibration.residual_delta_e00 < 3.0
    assert abs(warm.face.redness - plain.face.redness) < 0.05 * 5.0  # < 5 % of the day-1 effect


def test_opencv_mcc_detector_finds_the_same_chart(face_linear):
    """The selectable cv2.mcc detector measures the same chart as the default lattice search."""
    from analyzer.colour.chart_detect import detect_and_fit

    canvas = np.full((1024, 1600, 3), 0.18, np.float32)
    canvas[:, :1024] = face_linear
    chart = srgb_to_linear(render_chart(patch_px=60, gap_px=10) / 255.0)
    canvas[560 : 560 + chart.shape[0], 1060 : 1060 + chart.shape[1]] = chart * np.float32([1.2, 1.0, 0.75])
    rgb = (linear_to_srgb(canvas) * 255 + 0.5).astype(np.uint8)
    lattice = detect_and_fit(rgb, detector="lattice")
    mcc = detect_and_fit(rgb, detector="mcc")
    assert lattice is not None and mcc is not None
    print(f"\nresidual dE00: lattice {lattice.residual_delta_e00:.2f}, cv2.mcc {mcc.residual_delta_e00:.2f}")
    assert mcc.residual_delta_e00 < 2.0
    np.testing.assert_allclose(mcc.corners, lattice.corners, atol=6)
    with pytest.raises(ValueError, match="unknown chart detector"):
        detect_and_fit(rgb, detector="nope")


def test_sclera_balance_runs_and_reports_its_fallback(az, landmarker):
    """At selfie resolution an open-eyed face is balanced on the sclera; the same face with the
    eye openings painted over with skin falls back to no correction and says so."""
    from analyzer.face.mesh import LEFT_EYE, RIGHT_EYE

    big = demo_face(6)  # 3072 px, face >= 4 px/mm
    open_eyes = az.analyze(encode_png(srgb_to_linear(big / 255.0) * 0.5, "JPEG"), name="open")
    marks = landmarker.detect(big)
    painted = big.copy()
    skin = np.median(big[1800:1950, 1140:1290].reshape(-1, 3), axis=0)
    for eye in (LEFT_EYE, RIGHT_EYE):
        pts = np.round(marks.points[list(eye), :2]).astype(np.int32)
        cv2.fillPoly(painted, [cv2.convexHull(pts)], skin.tolist())
    closed = az.analyze(encode_png(srgb_to_linear(painted / 255.0) * 0.5, "JPEG"), name="closed")
    assert open_eyes.ok and open_eyes.calibration.method == "sclera"
    assert "light_not_corrected" not in [i.code for i in open_eyes.quality.issues]
    assert closed.ok, closed.error
    assert closed.calibration.method == "none"
    note = next(i for i in closed.quality.issues if i.code == "light_not_corrected")
    assert not note.blocking  # a note, not a reason to discard the numbers


def test_display_p3_photo_gives_the_same_numbers_as_its_srgb_original(az, face_linear, tmp_path):
    """iPhones tag JPEGs Display P3: the same scene stored in P3 primaries with its profile must
    measure like the sRGB original (the conversion is deferred to the face crop)."""
    from tests._images import P3_PRIMARIES_XY, SRGB_PRIMARIES_XY, display_p3_icc, rgb_to_xyz_matrix

    srgb_to_p3 = np.linalg.inv(rgb_to_xyz_matrix(P3_PRIMARIES_XY)) @ rgb_to_xyz_matrix(SRGB_PRIMARIES_XY)
    p3_linear = np.clip(face_linear @ srgb_to_p3.T.astype(np.float32), 0, 1)
    p3 = tmp_path / "p3.jpg"
    Image.fromarray((linear_to_srgb(p3_linear) * 255 + 0.5).astype(np.uint8)).save(
        p3, "JPEG", quality=95, icc_profile=display_p3_icc()
    )
    srgb = tmp_path / "srgb.jpg"
    Image.fromarray((linear_to_srgb(face_linear) * 255 + 0.5).astype(np.uint8)).save(srgb, "JPEG", quality=95)
    a, b = az.analyze(srgb), az.analyze(p3)
    assert a.ok and b.ok
    print(f"\nface.redness sRGB {a.face.redness:.3f} vs Display P3 {b.face.redness:.3f}")
    assert b.face.redness == pytest.approx(a.face.redness, abs=0.25)  # 5 % of the day-1 effect
    assert b.face.hemoglobin == pytest.approx(a.face.hemoglobin, abs=0.015)


def test_analyze_photo_api_accepts_a_path_and_returns_failures_as_results(tmp_path, face):
    good = tmp_path / "IMG_20261105_093012.png"
    Image.fromarray(face).save(good)
    r = analyze_photo(good)
    assert r.ok and r.captured_at is not None and r.captured_at.isoformat() == "2026-11-05T09:30:12"
    missing = analyze_photo(tmp_path / "nope.jpg")
    assert not missing.ok and "nope.jpg" in missing.error
    with pytest.raises(AttributeError):
        r.ok = False  # immutable


def test_no_face_is_a_clear_failure(az):
    sky = np.full((600, 800, 3), (110, 150, 220), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(sky).save(buf, "PNG")
    r = az.analyze(buf.getvalue(), name="sky.png")
    assert not r.ok and r.error.startswith("sky.png: no face")


def test_maps_cover_the_skin(az, face):
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, "PNG")
    r = az.analyze(buf.getvalue(), keep_maps=True)
    m = r.maps
    x0, y0, x1, y1 = m.box
    assert m.hemoglobin.shape == m.redness.shape == (y1 - y0, x1 - x0)
    skin = np.isfinite(m.hemoglobin)
    assert 0.05 < skin.mean() < 0.9
    assert np.nanmedian(m.redness) == pytest.approx(r.face.redness, abs=2.0)


def test_a_bright_forehead_is_left_out_where_clipped_and_the_photo_kept(az):
    # A sample selfie (sclera-balanced, 4.5 px/mm) whose forehead gets 1.8x the light (a lamp
    # above, an ointment's shine): its red channel clips on part of the forehead, several % of
    # the face's skin.  That used to refuse the photo (more than max_clipped_fraction clipped);
    # now the clipped pixels are left out, the rest is measured, and the photo is kept with a note.
    path = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))[0]
    rgb = np.asarray(Image.open(path).convert("RGB"))
    regions = locate_regions(rgb, az.landmarker.detect(rgb))
    x0, y0, x1, y1 = regions.box
    forehead = regions.regions["forehead"]
    poly = np.zeros(forehead.mask.shape, np.uint8)
    cv2.fillPoly(poly, [np.round(forehead.polygon).astype(np.int32)], 1)
    lit = rgb.copy()
    crop = lit[y0:y1, x0:x1]
    bright = np.clip(np.round(linear_to_srgb(srgb_to_linear(crop / 255.0) * 1.8) * 255), 0, 255).astype(np.uint8)
    crop[poly.astype(bool)] = bright[poly.astype(bool)]
    skin = np.logical_or.reduce([r.mask for r in regions.regions.values()])
    clipped = (lit[y0:y1, x0:x1].max(axis=2) >= 250) & skin
    assert clipped.mean() / skin.mean() > DEFAULT.max_clipped_fraction  # what used to refuse it

    def png(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        return buf.getvalue()

    before, after = az.analyze(png(rgb), name="plain.png"), az.analyze(png(lit), name="lit.png")
    assert before.quality.ok and after.quality.ok
    note = next(i for i in after.quality.issues if i.code == "overexposed")
    assert note.blocking is False and "the forehead" in note.message
    # The other regions: the same skin; the brighter forehead moves the landmarks, and with them
    # the sclera sample of the light correction, a little (its noise is 0.41 EI).
    for name in ("left_cheek", "right_cheek", "chin"):
        assert after.regions[name].redness == pytest.approx(before.regions[name].redness, abs=0.5)
    # The forehead is measured on its unclipped skin: the erythema index does not move with the
    # light (a ratio), so only the choice of pixels moves it.
    assert after.regions["forehead"].redness == pytest.approx(before.regions["forehead"].redness, abs=1.0)


def test_clipping_keeps_exactly_the_pixels_recorded_within_range():
    from analyzer.face.quality import clipping
    from analyzer.settings import DEFAULT

    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        clip = int(np.ceil(DEFAULT.clipped_level * top))  # 250 of 255: clipped from here
        dark = int(DEFAULT.dark_level * top)  # 5 of 255: black up to here
        mid = top // 2
        px = np.array([[[clip - 1] * 3, [clip, mid, mid], [dark + 1] * 3, [mid, dark, mid], [top, top, top]]], dtype)
        c = clipping(px, DEFAULT)
        assert c.measurable.tolist() == [[True, False, True, False, False]]
        assert c.bright.tolist() == [[False, True, False, False, True]]
        assert c.dark.tolist() == [[False, False, False, True, False]]
        rng = np.random.default_rng(3)
        big = rng.integers(0, top + 1, (64, 80, 3)).astype(dtype)
        rule = (big.max(axis=2) < DEFAULT.clipped_level * top) & (big.min(axis=2) > DEFAULT.dark_level * top)
        assert (clipping(big, DEFAULT).measurable == rule).all()
        assert (clipping(big, DEFAULT).bright == (big.max(axis=2) >= DEFAULT.clipped_level * top)).all()

