"""Tsumura melanin/haemoglobin separation (analyzer.measure.chromophores)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.measure.chromophores import (
    SIGMA_HEMOGLOBIN,
    SIGMA_MELANIN,
    add_chromophores,
    chromophores_of_mean,
    compose,
    optical_density,
    separate,
)
from analyzer.measure.redness import EPS, erythema_index

SM = np.array(SIGMA_MELANIN)
SH = np.array(SIGMA_HEMOGLOBIN)


def _skin(shape=(24, 30), seed=0) -> np.ndarray:
    """A mottled skin-like linear image built from known densities."""
    rng = np.random.default_rng(seed)
    return compose(
        0.6 + 0.1 * rng.normal(size=shape),
        0.3 + 0.1 * rng.normal(size=shape),
        shading=0.3 + 0.2 * rng.normal(size=shape),
    )


# --- constants ----------------------------------------------------------------------------


def test_vectors_are_read_only_unit_tuples():
    for v in (SIGMA_MELANIN, SIGMA_HEMOGLOBIN):
        assert isinstance(v, tuple) and len(v) == 3
        assert math.hypot(*v) == pytest.approx(1.0, abs=1e-4)
    assert SIGMA_MELANIN == (0.4143, 0.3570, 0.8372)
    assert SIGMA_HEMOGLOBIN == (0.2988, 0.6838, 0.6657)


# --- optical_density ------------------------------------------------------------------------


def test_optical_density_hand_worked():
    s = optical_density(np.array([1.0, math.exp(-1.0), 0.25], np.float32))
    np.testing.assert_allclose(s, [0.0, 1.0, math.log(4)], atol=1e-6)
    assert s.dtype == np.float32


def test_optical_density_eps_guard():
    s = optical_density(np.array([0.0, -0.5, EPS / 10]))
    np.testing.assert_allclose(s, [-math.log(EPS)] * 3, rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (7, 3), (4, 5, 3), (2, 2, 2, 3), (0, 3)])
def test_optical_density_shapes(shape):
    assert optical_density(np.full(shape, 0.5, np.float32)).shape == shape


# --- separate / compose -----------------------------------------------------------------------


def test_separate_hand_worked_pixel():
    # a pixel built as compose(c_m=0.5, c_h=0.3, shading=0.2) separates to (0.5, 0.3)
    rgb = compose(0.5, 0.3, shading=0.2)
    np.testing.assert_allclose(rgb, np.exp(-(0.5 * SM + 0.3 * SH + 0.2)), rtol=1e-6)
    c_m, c_h = separate(rgb)
    assert c_m.shape == () and c_m.dtype == np.float32 and c_h.dtype == np.float32
    assert float(c_m) == pytest.approx(0.5, abs=1e-6)
    assert float(c_h) == pytest.approx(0.3, abs=1e-6)


@pytest.mark.parametrize("level", [0.05, 0.2, 0.5, 1.0])
def test_grey_has_no_pigment(level):
    # s = p(1,1,1) lies entirely along the shading direction
    c_m, c_h = separate(np.full((3, 3), level, np.float32))
    np.testing.assert_allclose(c_m, 0.0, atol=1e-6)
    np.testing.assert_allclose(c_h, 0.0, atol=1e-6)


def test_compose_pure_pigment_hand_worked():
    np.testing.assert_allclose(compose(1.0, 0.0), np.exp(-SM), rtol=1e-6)
    np.testing.assert_allclose(compose(0.0, 1.0), np.exp(-SH), rtol=1e-6)
    np.testing.assert_allclose(compose(0.0, 0.0, shading=math.log(2)), [0.5] * 3, rtol=1e-6)


@pytest.mark.parametrize("shape", [(1,), (5,), (4, 7), (2, 3, 4)])
def test_round_trip_compose_separate(shape):
    rng = np.random.default_rng(1)
    cm, ch = rng.uniform(0, 1.5, shape), rng.uniform(-0.2, 1.0, shape)
    p = rng.uniform(-0.5, 2.0, shape)
    rgb = compose(cm, ch, shading=p)
    assert rgb.shape == (*shape, 3) and rgb.dtype == np.float32
    c_m, c_h = separate(rgb)
    np.testing.assert_allclose(c_m, cm, atol=2e-6)
    np.testing.assert_allclose(c_h, ch, atol=2e-6)


@pytest.mark.parametrize("k", [0.25, 0.37, 0.5, 2.0])
def test_exposure_leaves_densities_unchanged(k):
    img = _skin()
    c_m, c_h = separate(img)
    c_m2, c_h2 = separate(img * np.float32(k))
    np.testing.assert_allclose(c_m2, c_m, atol=1e-6)
    np.testing.assert_allclose(c_h2, c_h, atol=1e-6)


def test_exposure_invariance_is_exact_in_float64():
    img = _skin().astype(np.float64)
    a, b = separate(img), separate(img * 0.37)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(y, x, atol=1e-7)  # float32 output rounding only


def test_spatial_shading_is_removed():
    rng = np.random.default_rng(2)
    cm, ch = rng.uniform(0.3, 0.9, (16, 16)), rng.uniform(0.1, 0.6, (16, 16))
    flat = separate(compose(cm, ch))
    shaded = separate(compose(cm, ch, shading=np.linspace(0, 1.5, 16)[None, :]))
    for x, y in zip(flat, shaded, strict=True):
        np.testing.assert_allclose(y, x, atol=2e-6)


def test_separate_nan_propagates_to_that_pixel_only():
    img = _skin((2, 2))
    img[1, 0, 2] = np.nan
    for c in separate(img):
        assert np.isnan(c[1, 0]) and np.isfinite(c[[0, 0, 1], [0, 1, 1]]).all()


def test_custom_vectors_round_trip():
    sm, sh = (0.5, 0.5, 0.7071), (0.2, 0.8, 0.5657)
    rgb = compose(0.4, 0.7, shading=0.1, sigma_m=sm, sigma_h=sh)
    c_m, c_h = separate(rgb, sigma_m=sm, sigma_h=sh)
    assert (float(c_m), float(c_h)) == pytest.approx((0.4, 0.7), abs=1e-6)


@pytest.mark.parametrize(
    "sm, sh, match",
    [
        ((0.4, 0.3, 0.8), (0.8, 0.6, 1.6), "parallel"),
        ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0), "shading"),  # (1,1,1) lies in their plane
        ((0.4, 0.3), SIGMA_HEMOGLOBIN, "shape"),
        ((0.4, np.nan, 0.8), SIGMA_HEMOGLOBIN, "finite"),
    ],
)
def test_unusable_vectors_raise(sm, sh, match):
    with pytest.raises(ValueError, match=match):
        separate(np.full((2, 2, 3), 0.3, np.float32), sigma_m=sm, sigma_h=sh)


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 2), (3, 4)])
def test_separate_wrong_shape_raises(shape):
    with pytest.raises(ValueError, match="3"):
        separate(np.full(shape, 0.3, np.float32))


def test_separate_rejects_encoded_uint8():
    with pytest.raises(ValueError, match="encoded_to_linear"):
        separate(np.full((2, 2, 3), 100, np.uint8))


def test_compose_non_broadcastable_raises():
    with pytest.raises(ValueError, match="broadcast"):
        compose(np.zeros(3), np.zeros(4))


# --- add_chromophores ------------------------------------------------------------------------


def test_add_hemoglobin_raises_c_h_exactly():
    img = _skin()
    c_m, c_h = separate(img)
    c_m2, c_h2 = separate(add_chromophores(img, d_hemoglobin=0.1))
    np.testing.assert_allclose(c_h2 - c_h, 0.1, atol=1e-6)
    np.testing.assert_allclose(c_m2 - c_m, 0.0, atol=1e-6)


def test_add_hemoglobin_raises_erythema_index_by_hand_worked_amount():
    # EI = (100/ln 10)(s_G - s_R): +0.1 OD Hb -> 100*0.1*(0.6838-0.2988)/ln 10 = 1.672
    img = _skin()
    d_ei = erythema_index(add_chromophores(img, 0.1)) - erythema_index(img)
    np.testing.assert_allclose(d_ei, 100 * 0.1 * (SH[1] - SH[0]) / math.log(10), atol=1e-4)
    np.testing.assert_allclose(d_ei, 1.672, atol=1e-3)


def test_add_melanin_raises_c_m_only():
    img = _skin()
    c_m, c_h = separate(img)
    c_m2, c_h2 = separate(add_chromophores(img, d_melanin=0.25))
    np.testing.assert_allclose(c_m2 - c_m, 0.25, atol=1e-6)
    np.testing.assert_allclose(c_h2 - c_h, 0.0, atol=1e-6)


def test_add_chromophores_hand_worked_factor():
    out = add_chromophores(np.ones(3, np.float32), d_hemoglobin=0.3, d_melanin=0.1)
    np.testing.assert_allclose(out, np.exp(-(0.3 * SH + 0.1 * SM)), rtol=1e-6)


def test_add_chromophores_mask_and_map():
    img = _skin((10, 12))
    mask = np.zeros((10, 12), bool)
    mask[2:6, 3:9] = True
    dh = np.linspace(0.0, 0.5, 12)[None, :] * np.ones((10, 1))
    out = add_chromophores(img, d_hemoglobin=dh, mask=mask)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[~mask], img[~mask])
    _, c_h = separate(img)
    _, c_h2 = separate(out)
    np.testing.assert_allclose((c_h2 - c_h)[mask], dh[mask], atol=1e-6)


def test_add_chromophores_empty_mask_changes_nothing():
    img = _skin((4, 4))
    np.testing.assert_array_equal(add_chromophores(img, 0.3, mask=np.zeros((4, 4), bool)), img)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"d_hemoglobin": np.nan}, "NaN"),
        ({"d_melanin": np.zeros((3, 3))}, "broadcast"),
        ({"d_hemoglobin": np.zeros((2, 4, 4))}, "larger"),
        ({"mask": np.ones((4, 5), bool)}, "shape"),
        ({"mask": np.ones((4, 4), np.uint8)}, "bool"),
    ],
)
def test_add_chromophores_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        add_chromophores(_skin((4, 4)), **kwargs)


# --- chromophores_of_mean ----------------------------------------------------------------------


def test_of_mean_hand_worked():
    img = np.stack([compose(0.4, 0.2), compose(0.6, 0.4, shading=0.5)])[None]
    mel, hb = chromophores_of_mean(img, np.ones((1, 2), bool))
    assert (mel, hb) == pytest.approx((0.5, 0.3), abs=1e-6)


def test_of_mean_equals_mean_of_maps():
    img = _skin(seed=5)
    mask = np.zeros(img.shape[:2], bool)
    mask[3:20, 4:22] = True
    mask[10, :] = True
    img[~mask] = np.nan  # never read
    c_m, c_h = separate(img)
    mel, hb = chromophores_of_mean(img, mask)
    assert mel == pytest.approx(float(c_m[mask].astype(np.float64).mean()), abs=1e-6)
    assert hb == pytest.approx(float(c_h[mask].astype(np.float64).mean()), abs=1e-6)


@pytest.mark.parametrize("k", [0.3, 0.5, 1.8])
def test_of_mean_exposure_invariant(k):
    img, mask = _skin(seed=6), np.ones((24, 30), bool)
    assert chromophores_of_mean(img * np.float32(k), mask) == pytest.approx(
        chromophores_of_mean(img, mask), abs=1e-6
    )


def test_of_mean_tracks_added_hemoglobin_inside_mask():
    img = _skin(seed=7)
    mask = np.zeros((24, 30), bool)
    mask[5:15, 5:25] = True
    mel, hb = chromophores_of_mean(img, mask)
    mel2, hb2 = chromophores_of_mean(add_chromophores(img, 0.3, mask=mask), mask)
    assert hb2 - hb == pytest.approx(0.3, abs=1e-6)
    assert mel2 - mel == pytest.approx(0.0, abs=1e-6)


def test_of_mean_empty_mask_raises():
    with pytest.raises(ValueError, match="empty"):
        chromophores_of_mean(_skin((4, 4)), np.zeros((4, 4), bool))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_of_mean_non_finite_inside_mask_raises(bad):
    img = _skin((4, 4))
    img[2, 2, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        chromophores_of_mean(img, np.ones((4, 4), bool))


@pytest.mark.parametrize("shape", [(4, 4, 4), (4, 4), (2, 4, 4, 3)])
def test_of_mean_wrong_image_shape_raises(shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        chromophores_of_mean(np.full(shape, 0.3, np.float32), np.ones((4, 4), bool))
