"""ColorChecker reference data (analyzer.colour.datasets), correction (analyzer.colour.chart) and
detection and measurement (analyzer.colour.chart_detect).

Reference values are checked against X-Rite's published table and Lindbloom's Bradford matrix;
detection and correction against synthetic photos: the chart rendered from the reference,
pasted into NASA's astronaut portrait, put under a colour cast and an exposure change, and
JPEG-compressed.  Run with ``pytest -s`` to see the measured residuals and times.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from analyzer.colour import chart_detect
from analyzer.colour.chart import (
    DEFAULT_FIT_METHOD,
    FIT_METHODS,
    ChartFit,
    apply_matrix,
    fit_correction,
    validate_fit_method,
)
from analyzer.colour.chart_detect import detect_and_fit, find_chart
from analyzer.colour.datasets import (
    COLORCHECKER24,
    COLORCHECKER24_LAB_D50,
    COLORCHECKER24_NAMES,
    reference_lab_d65,
    reference_linear_srgb,
    render_chart,
)
from analyzer.colour.spaces import (
    D65_WHITE_XYZ,
    LINEAR_SRGB_FROM_XYZ,
    XYZ_FROM_LINEAR_SRGB,
    bradford_matrix,
    delta_e00,
    encoded_to_linear,
    lab_to_linear,
    linear_to_lab,
    linear_to_srgb,
)

# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def paste_chart(
    background: np.ndarray,
    *,
    width_fraction: float,
    centre: tuple[float, float],
    angle_deg: float = 0.0,
    gains=(1.0, 1.0, 1.0),
    exposure: float = 1.0,
    jpeg_quality: int | None = 85,
    patch_px: int = 60,
    gap_px: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste :func:`render_chart` into ``background`` and light the whole scene.

    The chart is scaled so its width is ``width_fraction`` of the image width, rotated by
    ``angle_deg`` about its centre and placed at ``centre`` (fractions of width and height);
    then the scene is multiplied in linear light by ``gains * exposure``, re-encoded to 8-bit
    sRGB and optionally JPEG-compressed.  Returns (uint8 RGB image, (4, 2) true grid corners:
    next to dark skin, bluish green, black, white; patch-pitch grid, i.e. half a gap outside
    the outer patches).
    """
    chart = render_chart(patch_px, gap_px)
    h, w = background.shape[:2]
    scale = width_fraction * w / chart.shape[1]
    a = cv2.getRotationMatrix2D((chart.shape[1] / 2, chart.shape[0] / 2), angle_deg, scale)
    a[:, 2] += (centre[0] * w - chart.shape[1] / 2, centre[1] * h - chart.shape[0] / 2)
    warped = cv2.warpAffine(chart, a, (w, h), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.full(chart.shape[:2], 255, np.uint8), a, (w, h))[..., None] / 255.0
    lin = encoded_to_linear(background) * (1 - inside) + encoded_to_linear(warped) * inside
    lin = lin * (np.asarray(gains, np.float32) * exposure)
    img = np.round(linear_to_srgb(lin) * 255).astype(np.uint8)
    if jpeg_quality is not None:
        _, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        img = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    pitch = patch_px + gap_px
    half = gap_px / 2
    grid = np.array(
        [
            [half, half],
            [gap_px + 6 * pitch - half, half],
            [gap_px + 6 * pitch - half, gap_px + 4 * pitch - half],
            [half, gap_px + 4 * pitch - half],
        ]
    )
    corners = grid @ a[:, :2].T + a[:, 2]
    return img, corners


@pytest.fixture(scope="module")
def scene(astronaut) -> np.ndarray:
    """The astronaut upscaled to 1600 x 1200 (landscape, 4:3), uint8 RGB."""
    return cv2.resize(np.asarray(astronaut), (1600, 1200), interpolation=cv2.INTER_CUBIC)


def median_ms(fn, repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


# ------------------------------------------------------------------------------------------
# Reference data
# ------------------------------------------------------------------------------------------


def test_reference_table_is_xrite_after_november_2014():
    assert len(COLORCHECKER24_NAMES) == 24 and COLORCHECKER24_LAB_D50.shape == (24, 3)
    named = dict(zip(COLORCHECKER24_NAMES, COLORCHECKER24_LAB_D50))
    published = {  # X-Rite, L*a*b* D50 2 deg, after November 2014 (docs/science.md#colorchecker-values)
        "dark skin": (37.54, 14.37, 14.92),
        "light skin": (64.66, 19.27, 17.50),
        "red": (42.43, 51.05, 28.62),
        "white 9.5 (.05 D)": (95.19, -1.03, 2.93),
        "neutral 5 (.70 D)": (50.76, -0.13, 0.14),
    }
    for name, lab in published.items():
        np.testing.assert_allclose(named[name], lab, atol=0.005, err_msg=name)
    assert COLORCHECKER24_NAMES[0] == "dark skin" and COLORCHECKER24_NAMES[23].startswith("black")
    assert COLORCHECKER24.illuminant == "D50" and "X-Rite" in COLORCHECKER24.source
    with pytest.raises(ValueError):
        COLORCHECKER24_LAB_D50[0, 0] = 0.0  # read-only


def test_reference_lab_d65_keeps_the_neutral_series_neutral():
    lab50, lab65 = COLORCHECKER24_LAB_D50, reference_lab_d65()
    # neutral 8 ... black 2: neutral under D65 too
    assert np.all(np.abs(lab65[19:24, 1:]) < 1.0)
    # all six (white 9.5 is itself slightly yellow, b* = 2.93 under D50): L* and a*, b* kept
    assert np.all(np.abs(lab65[18:24, 0] - lab50[18:24, 0]) < 1.0)
    assert np.all(np.abs(lab65[18:24, 1:] - lab50[18:24, 1:]) < 0.3)
    assert not reference_lab_d65().flags.writeable and not reference_linear_srgb().flags.writeable


def test_reference_round_trip_lab_linear_lab():
    lin = reference_linear_srgb()
    assert np.abs(linear_to_lab(lin) - reference_lab_d65()).max() < 1e-6
    assert np.abs(lab_to_linear(reference_lab_d65()) - lin).max() < 1e-9
    # cyan is the one patch outside the sRGB gamut
    outside = np.nonzero((lin < 0).any(1))[0]
    assert [COLORCHECKER24_NAMES[i] for i in outside] == ["cyan"]


def test_render_chart_layout_and_colours():
    img = render_chart(60, 10)
    assert img.shape == (290, 430, 3) and img.dtype == np.uint8
    codes = np.round(linear_to_srgb(np.clip(reference_linear_srgb(), 0, 1)) * 255).astype(np.uint8)
    for i in (0, 5, 14, 18, 23):
        r, c = divmod(i, 6)
        y, x = 10 + r * 70 + 30, 10 + c * 70 + 30
        assert img[y, x].tolist() == codes[i].tolist(), COLORCHECKER24_NAMES[i]
    assert img[5, 5].tolist() == [0, 0, 0] and img[40, 75].tolist() == [0, 0, 0]  # frame and gap
    assert img[40, 40].tolist() == [116, 79, 65]  # dark skin in 8-bit sRGB


# ------------------------------------------------------------------------------------------
# Fitting
# ------------------------------------------------------------------------------------------


def test_every_fit_method_inverts_a_known_camera_matrix():
    camera = np.array([[0.9, 0.12, 0.0], [0.05, 0.8, 0.15], [0.0, 0.1, 0.75]]) * [0.9, 1.0, 0.7]
    measured = reference_linear_srgb() @ camera.T  # noise-free, so an exact inverse exists
    for method in FIT_METHODS:
        fit = fit_correction(measured, method=method)
        assert isinstance(fit, ChartFit) and fit.method == method
        tol = 0.05 if method == "opencv_ccm" else 1e-6  # an iterative simplex vs. closed forms
        assert fit.residual_delta_e00 < tol, (method, fit.residual_delta_e00)
        np.testing.assert_allclose(
            fit.matrix @ camera, np.eye(3), atol=2e-3 if method == "opencv_ccm" else 1e-8
        )
    # cyan (outside the sRGB gamut: R < 0 here) cannot be measured and is not used
    assert measured[17, 0] < 0 and not fit.used[17] and fit.used.sum() == 23


def test_fit_drops_clipped_nan_and_occluded_patches():
    measured = np.clip(reference_linear_srgb(), 0, 1) * [1.3, 1.0, 0.8]
    measured[18] = np.minimum(measured[18], 1.0)  # white clipped in R
    measured[18, 0] = 1.0
    measured[3] = np.nan  # not measurable
    measured[7] = measured[1]  # purplish blue hidden by a finger (skin colour)
    fit = fit_correction(measured)
    assert not fit.used[[3, 7, 18]].any()
    assert fit.residual_delta_e00 < 0.05
    np.testing.assert_allclose(np.diag(fit.matrix) * [1.3, 1.0, 0.8], 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="usable"):
        fit_correction(np.full((24, 3), np.nan))
    with pytest.raises(ValueError, match="shape"):
        fit_correction(np.ones((23, 3)))
    with pytest.raises(ValueError, match="weighted_least_squares"):
        validate_fit_method("nope")


def _simulated_camera(rng: np.random.Generator, case: int) -> np.ndarray:
    """Measured patches of a simulated camera; each case adds one imperfection to the last:
    0 a diagonal cast and exposure; 1 an illuminant change (A, F2, D50 or D75 adapted from D65
    by Bradford, so not diagonal in RGB); 2 camera cross-talk; 3 a tone curve that is not sRGB.
    All with 1 % gain noise per patch and clipping to [0, 1]."""
    x = reference_linear_srgb().copy()
    if case >= 1:  # an illuminant change, adapted in the cone space (not diagonal in RGB)
        xy = rng.choice([(0.44757, 0.40745), (0.37208, 0.37529), (0.34567, 0.35850), (0.29902, 0.31485)])
        white = np.array([xy[0] / xy[1], 1.0, (1 - xy[0] - xy[1]) / xy[1]])
        cat = LINEAR_SRGB_FROM_XYZ @ bradford_matrix(D65_WHITE_XYZ, white) @ XYZ_FROM_LINEAR_SRGB
        x = x @ cat.T
    if case >= 2:  # camera cross-talk
        c = np.eye(3) + rng.normal(0, 0.06, (3, 3))
        x = x @ (c / c.sum(1, keepdims=True)).T
    x = x * rng.uniform(0.7, 1.3, 3) * rng.uniform(0.6, 1.2)  # residual cast and exposure
    if case >= 3:  # a tone curve that is not quite sRGB
        x = np.clip(x, 0, None) ** rng.uniform(0.9, 1.1)
    x = x * (1 + rng.normal(0, 0.01, x.shape)) + rng.normal(0, 0.0005, x.shape)  # 1 % gain noise
    return np.clip(x, 0, 1)


def test_fit_methods_compared_on_simulated_cameras():
    """The comparison behind DEFAULT_FIT_METHOD: mean CIEDE2000 over usable patches and the
    error of the skin patches' erythema index, 40 simulated charts per case."""
    cases = ("diagonal cast", "+ illuminant (Bradford)", "+ camera cross-talk", "+ tone-curve error")
    ref_lab = reference_lab_d65()
    ref_ei = 100 * np.log10(reference_linear_srgb()[:2, 0] / reference_linear_srgb()[:2, 1])
    rng = np.random.default_rng(2024)
    table = {}
    for case, label in enumerate(cases):
        sims = [_simulated_camera(rng, case) for _ in range(40)]
        for method in FIT_METHODS:
            de, ei = [], []
            for meas in sims:
                fit = fit_correction(meas, method=method, outlier_delta_e00=np.inf)
                corrected = np.clip(meas @ fit.matrix.T, 0, None)
                ok = fit.used
                de.append(delta_e00(linear_to_lab(corrected[ok]), ref_lab[ok]).mean())
                ei.append(np.abs(100 * np.log10(corrected[:2, 0] / corrected[:2, 1]) - ref_ei).max())
            table[label, method] = (float(np.mean(de)), float(np.mean(ei)))
    print("\nmean dE00 / skin EI error  " + "  ".join(f"{m:>24s}" for m in FIT_METHODS))
    for label in cases:
        row = "  ".join(f"{table[label, m][0]:>13.2f} / {table[label, m][1]:>6.2f}" for m in FIT_METHODS)
        print(f"{label:26s}  {row}")
    for label in cases:
        best = min(table[label, m][0] for m in FIT_METHODS)
        assert table[label, DEFAULT_FIT_METHOD][0] <= best + 0.1, label
        assert table[label, DEFAULT_FIT_METHOD][0] < 2.0


def test_apply_matrix_shapes_dtype_and_clipping():
    img = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    m = np.array([[1.2, -0.1, 0.0], [0.0, 1.0, 0.0], [-0.5, 0.0, 0.8]])
    out = apply_matrix(img, m)
    assert out.shape == img.shape and out.dtype == np.float32
    expected = np.maximum(img.astype(np.float64) @ m.T, 0)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert (out >= 0).all() and (img @ m.T < 0).any()
    with pytest.raises(ValueError):
        apply_matrix(img, np.eye(4))


# ------------------------------------------------------------------------------------------
# Detection and correction in photos
# ------------------------------------------------------------------------------------------


def test_chart_under_a_cast_is_found_and_the_cast_removed(scene):
    gains, exposure = (1.25, 1.0, 0.7), 0.8
    img, true_corners = paste_chart(
        scene,
        width_fraction=0.27,
        centre=(0.72, 0.75),
        angle_deg=3.0,
        gains=gains,
        exposure=exposure,
        jpeg_quality=85,
    )
    found = find_chart(img)
    assert found is not None
    measured, corners = found
    pitch = np.linalg.norm(true_corners[1] - true_corners[0]) / 6
    assert np.abs(corners - true_corners).max() < 0.1 * pitch
    before = linear_to_lab(measured)
    fit = detect_and_fit(img)
    assert fit is not None
    after = linear_to_lab(apply_matrix(measured, fit.matrix))
    print(
        f"\nchart under cast {gains} x {exposure}, JPEG q85: residual dE00 mean "
        f"{fit.residual_delta_e00:.2f}, max {fit.max_delta_e00:.2f}; neutral b* before "
        f"{before[19:24, 2].round(1)}, after {after[19:24, 2].round(2)}"
    )
    assert fit.residual_delta_e00 < 2.0
    assert before[19:22, 2].min() > 10  # the cast was there (yellow)
    ref = reference_lab_d65()
    assert np.all(np.abs(after[18:24, 1:] - ref[18:24, 1:]) <= 2.0)  # the cast is removed
    assert np.all(np.abs(after[19:24, 1:]) <= 2.0)
    # the correction is essentially the inverse of the cast
    np.testing.assert_allclose(np.diag(fit.matrix) * gains * exposure, 1.0, atol=0.05)


def test_photo_without_chart_is_none_and_fast(scene, astronaut):
    assert find_chart(scene) is None and detect_and_fit(scene) is None
    assert detect_and_fit(np.asarray(astronaut)) is None
    photo = cv2.resize(scene, (1000, 750), interpolation=cv2.INTER_AREA)
    ms_none = median_ms(lambda: detect_and_fit(photo))
    with_chart, _ = paste_chart(photo, width_fraction=0.25, centre=(0.75, 0.7), gains=(1.1, 1.0, 0.9))
    ms_chart = median_ms(lambda: detect_and_fit(with_chart))
    print(f"\n1000 x 750 photo: search without a chart {ms_none:.1f} ms, with a chart {ms_chart:.1f} ms")
    assert ms_none < 25.0  # ~3-5 ms measured; loose for slow CI machines


def test_tiled_wall_is_not_a_chart():
    wall = np.full((900, 1200, 3), 50, np.uint8)
    rng = np.random.default_rng(0)
    for y in range(15, 900 - 60, 55):
        for x in range(15, 1200 - 60, 55):
            wall[y : y + 45, x : x + 45] = 170 + rng.integers(-15, 15, 3)
    assert detect_and_fit(wall) is None
    few = wall[:240, :380].copy()  # 4 x 6 tiles: a chart-shaped grid of one colour
    assert detect_and_fit(few) is None


@pytest.mark.parametrize(
    "portrait, angle, gains, exposure",
    [
        (False, -4.0, (0.8, 1.0, 1.25), 0.6),
        (True, 5.0, (1.3, 1.0, 0.75), 1.4),
        (True, 180.0, (1.0, 1.0, 1.0), 1.0),
        (False, 90.0, (1.1, 1.0, 0.9), 1.2),
    ],
)
def test_small_chart_is_found_in_any_light_and_orientation(scene, portrait, angle, gains, exposure):
    """A chart 1/6 of the image width (portrait: of the short side), JPEG q85."""
    bg = cv2.resize(scene, (900, 1200)) if portrait else scene
    img, true_corners = paste_chart(
        bg, width_fraction=1 / 6, centre=(0.3, 0.6), angle_deg=angle, gains=gains, exposure=exposure
    )
    fit = detect_and_fit(img)
    assert fit is not None
    pitch = np.linalg.norm(true_corners[1] - true_corners[0]) / 6
    assert np.abs(fit.corners - true_corners).max() < 0.15 * pitch
    print(
        f"\n1/6-width chart, portrait={portrait}, {angle} deg, {gains} x {exposure}: "
        f"residual dE00 {fit.residual_delta_e00:.2f} ({int(fit.used.sum())} patches used)"
    )
    assert fit.residual_delta_e00 < 2.0


def test_uint16_photo_gives_the_same_measurement(scene):
    img, _ = paste_chart(scene, width_fraction=0.25, centre=(0.7, 0.7), gains=(1.2, 1.0, 0.8))
    img16 = img.astype(np.uint16) * 257
    m8, c8 = find_chart(img)
    m16, c16 = find_chart(img16)
    np.testing.assert_allclose(m16, m8, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(c16, c8, atol=1e-3)


def test_bad_input_is_rejected():
    with pytest.raises(TypeError):
        find_chart(np.zeros((100, 100, 3), np.float32))
    with pytest.raises(ValueError):
        find_chart(np.zeros((100, 100), np.uint8))


def _lattice_squares(img: np.ndarray) -> int:
    """How many squares the search puts in the largest lattice (steps 1-3 of find_chart)."""
    small = chart_detect._downscale(img, 1000)
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    pitch = min(gray.shape) * chart_detect.MIN_CHART_FRACTION / 6.5
    sq = chart_detect._squares(gray, 0.6 * 0.86 * pitch, max(gray.shape) / 6.5)
    _, ab = chart_detect._fit_lattice(sq[chart_detect._groups(sq)[0], :2])
    return len(ab)


def test_a_background_square_in_line_with_the_chart_does_not_hide_it():
    """A light square one pitch above the first patch, on a dark background (a badge on a dark
    uniform): it joins the chart's lattice, and a placement that had to cover every square
    found none (the misses on the held-out face, bench/chart_spread.py)."""
    bg = np.full((900, 1200, 3), 40, np.uint8)
    scale = 0.3 * 1200 / 430  # paste_chart's scale for a 430 px wide chart
    top_left = np.array([0.6 * 1200, 0.7 * 900]) - np.array([430, 290]) * scale / 2
    centre = top_left + 40 * scale - (0, 70 * scale)  # patch 0's centre, one pitch up
    half = int(25 * scale)
    x, y = np.round(centre).astype(int)
    bg[y - half : y + half, x - half : x + half] = 180
    img, true_corners = paste_chart(bg, width_fraction=0.3, centre=(0.6, 0.7), gains=(1.2, 1.0, 0.8))
    fit = detect_and_fit(img)
    assert fit is not None
    pitch = np.linalg.norm(true_corners[1] - true_corners[0]) / 6
    assert np.abs(fit.corners - true_corners).max() < 0.15 * pitch
    assert fit.residual_delta_e00 < 2.0
    assert _lattice_squares(img) == 25  # the 24 patches and the stray


def test_a_chart_filling_the_photo_is_found_once_per_patch(monkeypatch):
    """The chart alone with a thin dark margin: each patch's frame thresholds as its own ring,
    giving two concentric square contours per patch; counted twice, 48 squares looked like a
    tiled wall (more than 36) and the chart was missed."""
    img = np.pad(render_chart(50, 9), ((20, 20), (20, 20), (0, 0)), constant_values=60)
    _, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88])
    img = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    fit = detect_and_fit(img)
    assert fit is not None and fit.residual_delta_e00 < 2.0
    # grid corners half a gap (4.5 px) outside the outer patches; pitch 59 px
    expected = [[24.5, 24.5], [378.5, 24.5], [378.5, 260.5], [24.5, 260.5]]
    np.testing.assert_allclose(fit.corners, expected, atol=1.5)
    monkeypatch.setattr(chart_detect, "_one_per_centre", lambda sq: sq)
    assert find_chart(img) is None


@pytest.mark.parametrize(
    "exposure, seed, strays",
    [
        (0.8, 10007, 1),  # the first chart photo of bench/chart_spread.py
        (1.0, 10044, 4),  # a chart photo of python -m analyzer.validate --face hopper
    ],
)
def test_chart_on_the_held_out_face_is_found(exposure, seed, strays):
    """Grace Hopper's render (dark uniform behind the card) under 3200 K, JPEG q88: squares of
    the uniform line up with the chart (1 and 4 of them here), and the chart was missed while a
    placement had to cover every square (16 of 108 such renders were)."""
    from io import BytesIO

    from PIL import Image

    from analyzer.samples import Day, Light, render_photo

    day = Day(0.0, 0.0, 0.0, 0.0, Light(3200, 0.5, exposure), "bathroom", with_chart=True, face="hopper")
    r = render_photo(day, rng=np.random.default_rng(seed))
    buf = BytesIO()
    Image.fromarray(r.rgb).save(buf, "JPEG", quality=88)
    img = np.asarray(Image.open(buf).convert("RGB"))
    fit = detect_and_fit(img)
    assert fit is not None and fit.residual_delta_e00 < 1.0
    x0, y0, x1, y1 = r.chart_box  # the card, frame included: the grid lies just inside it
    assert np.all((fit.corners[:, 0] > x0) & (fit.corners[:, 0] < x1))
    assert np.all((fit.corners[:, 1] > y0) & (fit.corners[:, 1] < y1))
    assert np.abs(fit.corners - [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).max() < 12
    assert _lattice_squares(img) == 24 + strays  # the patches and the strays no placement covers
