"""Erythema index and a* (analyzer.measure.redness): hand-worked values, invariances, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.colour.spaces import linear_to_lab
from analyzer.measure.redness import EPS, a_star_of_mean, erythema_index, erythema_index_of_mean

SKIN = (0.45, 0.30, 0.25)


def _patch(colour=SKIN, shape=(8, 8)) -> np.ndarray:
    return np.full((*shape, 3), colour, np.float32)


def _mottled(seed: int = 0, shape=(32, 40)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.array(SKIN) * np.exp(rng.normal(0.0, 0.1, (*shape, 3)))).astype(np.float32)


# --- erythema_index (per pixel) ----------------------------------------------------------


@pytest.mark.parametrize("blue", [0.0, 0.1, 0.9])
def test_ei_hand_worked(blue):
    # 100 log10(0.5 / 0.25) = 100 log10(2) = 30.103; blue does not enter
    ei = erythema_index(np.array([0.5, 0.25, blue], np.float32))
    assert ei.shape == () and ei.dtype == np.float32
    assert float(ei) == pytest.approx(100 * math.log10(2), abs=1e-4)
    assert float(ei) == pytest.approx(30.103, abs=1e-3)


def test_ei_grey_is_zero_and_sign():
    ei = erythema_index(np.array([[0.3, 0.3, 0.3], [0.25, 0.5, 0.1]], np.float32))
    np.testing.assert_allclose(ei, [0.0, -100 * math.log10(2)], atol=1e-4)


@pytest.mark.parametrize("shape", [(3,), (5, 3), (4, 6, 3), (2, 3, 4, 3), (0, 3)])
def test_ei_shapes(shape):
    x = np.full(shape, 0.4, np.float32)
    ei = erythema_index(x)
    assert ei.shape == shape[:-1] and ei.dtype == np.float32


@pytest.mark.parametrize("k", [0.25, 0.37, 0.5, 1.7])
def test_ei_exposure_invariant(k):
    img = _mottled()
    np.testing.assert_allclose(erythema_index(img * np.float32(k)), erythema_index(img), atol=1e-4)


def test_ei_eps_guard_is_documented_value():
    x = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [-0.01, 0.2, 0.1]], np.float32)
    ei = erythema_index(x)
    np.testing.assert_allclose(ei, [0.0, 100 * math.log10(0.5 / EPS), 100 * math.log10(EPS / 0.2)], rtol=1e-6)
    assert np.all(np.isfinite(ei))


def test_ei_nan_propagates_to_that_pixel_only():
    x = _patch(shape=(2, 2))
    x[0, 1, 0] = np.nan
    ei = erythema_index(x)
    assert np.isnan(ei[0, 1]) and np.isfinite(ei[[0, 1, 1], [0, 0, 1]]).all()


def test_ei_float64_and_float16_inputs():
    x = np.array([0.5, 0.25, 0.1])
    assert erythema_index(x).dtype == np.float32
    assert float(erythema_index(x.astype(np.float16))) == pytest.approx(30.103, abs=1e-3)


# --- erythema_index_of_mean ----------------------------------------------------------------


def test_ei_of_mean_is_ratio_of_means_not_mean_of_ratios():
    img = np.zeros((2, 2, 3), np.float32)
    img[0, 0] = (0.7, 0.2, 0.1)
    img[0, 1] = (0.3, 0.3, 0.1)
    img[1] = np.nan  # outside the mask: never read
    mask = np.array([[True, True], [False, False]])
    assert erythema_index_of_mean(img, mask) == pytest.approx(100 * math.log10(0.5 / 0.25), abs=1e-5)
    mean_of_map = float(np.mean(erythema_index(img[0])))  # (54.41 + 0) / 2
    assert mean_of_map == pytest.approx(27.203, abs=1e-3)


@pytest.mark.parametrize("k", [0.25, 0.37, 0.5, 3.0])
def test_ei_of_mean_exposure_invariant(k):
    img = _mottled(1)
    mask = np.zeros(img.shape[:2], bool)
    mask[4:28, 5:30] = True
    assert erythema_index_of_mean(img * np.float32(k), mask) == pytest.approx(
        erythema_index_of_mean(img, mask), abs=1e-5
    )


def test_ei_of_mean_shading_invariant_on_uniform_skin():
    # any shading pattern that scales R and G alike cancels on skin of one colour
    rng = np.random.default_rng(2)
    shading = rng.uniform(0.2, 1.0, (20, 30, 1)).astype(np.float32)
    img = _patch(shape=(20, 30)) * shading
    ref = 100 * math.log10(SKIN[0] / SKIN[1])
    assert erythema_index_of_mean(img, np.ones((20, 30), bool)) == pytest.approx(ref, abs=1e-5)


def test_ei_of_mean_hemoglobin_sensitivity_matches_science_notes():
    # raising haemoglobin OD by 0.1 raises EI by 100*0.1*(0.6838-0.2988)/ln 10 = 1.672 (~ +1.7)
    from analyzer.measure.chromophores import SIGMA_HEMOGLOBIN as sh
    from analyzer.measure.chromophores import add_chromophores

    img = _mottled(3)
    mask = np.ones(img.shape[:2], bool)
    delta = erythema_index_of_mean(add_chromophores(img, 0.1), mask) - erythema_index_of_mean(img, mask)
    assert delta == pytest.approx(100 * 0.1 * (sh[1] - sh[0]) / math.log(10), abs=1e-4)
    assert delta == pytest.approx(1.672, abs=1e-3)


# --- a_star_of_mean ---------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [SKIN, (0.6, 0.35, 0.3), (0.1, 0.07, 0.05)])
def test_a_star_of_uniform_patch_equals_linear_to_lab(colour):
    expected = float(linear_to_lab(np.array(colour, np.float32))[1])
    assert a_star_of_mean(_patch(colour), np.ones((8, 8), bool)) == pytest.approx(expected, abs=1e-6)


def test_a_star_hand_worked_skin_value():
    # X = .412453*.45 + .357580*.30 + .180423*.25 = 0.336... ; a* = 500 (f(X/Xn) - f(Y/Yn))
    assert a_star_of_mean(_patch(), np.ones((8, 8), bool)) == pytest.approx(9.309, abs=1e-3)


def test_a_star_of_grey_is_about_zero():
    assert abs(a_star_of_mean(_patch((0.2, 0.2, 0.2)), np.ones((8, 8), bool))) < 0.05


def test_a_star_is_of_the_mean_colour():
    img = _mottled(4, shape=(6, 7))
    mask = np.zeros((6, 7), bool)
    mask[1:5, 2:6] = True
    expected = float(linear_to_lab(img[mask].astype(np.float64).mean(axis=0))[1])
    assert a_star_of_mean(img, mask) == pytest.approx(expected, abs=1e-6)


def test_a_star_moves_with_exposure_by_cube_root():
    # documented confounder: a* scales by 2**(-1/3) when exposure halves (cube-root segment)
    mask = np.ones((8, 8), bool)
    a1 = a_star_of_mean(_patch(), mask)
    a_half = a_star_of_mean(_patch() * np.float32(0.5), mask)
    assert a_half / a1 == pytest.approx(2 ** (-1 / 3), rel=1e-5)
    assert a1 - a_half > 1.5  # not invariant, unlike the erythema index


# --- input checks -----------------------------------------------------------------------------

MEAN_FUNCS = [erythema_index_of_mean, a_star_of_mean]


@pytest.mark.parametrize("func", MEAN_FUNCS)
def test_empty_mask_raises(func):
    with pytest.raises(ValueError, match="empty"):
        func(_patch(), np.zeros((8, 8), bool))


@pytest.mark.parametrize("func", MEAN_FUNCS)
def test_mask_shape_mismatch_raises(func):
    with pytest.raises(ValueError, match="shape"):
        func(_patch(), np.ones((8, 9), bool))


@pytest.mark.parametrize("func", MEAN_FUNCS)
def test_non_bool_mask_raises(func):
    with pytest.raises(ValueError, match="bool"):
        func(_patch(), np.ones((8, 8), np.uint8))


@pytest.mark.parametrize("func", MEAN_FUNCS)
@pytest.mark.parametrize("shape", [(8, 8), (8, 8, 4), (8, 8, 3, 1)])
def test_wrong_image_shape_raises(func, shape):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        func(np.full(shape, 0.3, np.float32), np.ones((8, 8), bool))


@pytest.mark.parametrize("func", MEAN_FUNCS + [erythema_index])
def test_encoded_uint8_raises_with_hint(func):
    img = np.full((8, 8, 3), 128, np.uint8)
    args = (img,) if func is erythema_index else (img, np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="encoded_to_linear"):
        func(*args)


@pytest.mark.parametrize("func", MEAN_FUNCS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inside_mask_raises(func, bad):
    img = _patch()
    img[3, 3, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        func(img, np.ones((8, 8), bool))


@pytest.mark.parametrize("func", MEAN_FUNCS)
def test_non_finite_outside_mask_is_ignored(func):
    img = _patch()
    img[0] = np.nan
    mask = np.ones((8, 8), bool)
    mask[0] = False
    assert math.isfinite(func(img, mask))


def test_erythema_index_wrong_last_axis_raises():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        erythema_index(np.zeros((4, 4), np.float32))


@pytest.mark.parametrize(
    "patch, published_a_star",
    [("dark skin", 14.37), ("light skin", 19.27), ("red", 51.05)],
)
def test_a_star_of_colorchecker_patches_against_published_values(patch, published_a_star):
    """X-Rite ColorChecker a* (D50, docs/science.md#colorchecker-values) against our a* (D65) of
    the same patch as an 8-bit sRGB pixel (Bradford-adapted, as a camera's white balance would).

    Tolerance 1.5: CIELAB is not invariant under chromatic adaptation, so the D65 a* of a
    Bradford-adapted colour differs from its D50 a* by about 1 for these patches."""
    from analyzer.colour.datasets import COLORCHECKER24_NAMES, reference_linear_srgb
    from analyzer.colour.spaces import encoded_to_linear, linear_to_srgb

    i = COLORCHECKER24_NAMES.index(patch)
    encoded = np.round(linear_to_srgb(reference_linear_srgb()[i]) * 255).astype(np.uint8)
    img = np.tile(encoded_to_linear(encoded), (4, 4, 1))
    assert a_star_of_mean(img, np.ones((4, 4), bool)) == pytest.approx(published_a_star, abs=1.5)
