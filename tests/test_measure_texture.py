"""Roughness and flaking at a fixed physical scale (analyzer.measure.texture)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.colour.spaces import LUMINANCE_WEIGHTS
from analyzer.measure.redness import EPS
from analyzer.measure.texture import flaking_density, log_luminance, roughness

PPM = 4.0  # Settings.texture_px_per_mm
SKIN = np.array([0.45, 0.30, 0.25])
FIELD_MM = 40.0  # 40 x 40 mm = 16 cm^2
N_PX = int(FIELD_MM * PPM)  # 160 px
FULL = np.ones((N_PX, N_PX), bool)
LN_1_3 = math.log(1.3)  # flake contrast: 30 % brighter


def _noise(std: float, seed: int = 0, n: int = N_PX) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, std, (n, n))


def _skin_linear(log_offset: np.ndarray) -> np.ndarray:
    """Linear RGB skin whose luminance is exp(log_offset) times that of SKIN."""
    return (SKIN * np.exp(log_offset)[..., None]).astype(np.float32)


def _disc_coverage(centres_mm, diameter_mm: float, n: int = N_PX, ss: int = 8) -> np.ndarray:
    """Fraction of each pixel covered by the discs (8 x 8 supersampling, drawn locally)."""
    cover = np.zeros((n, n))
    r = diameter_mm / 2 * PPM
    sub = (np.arange(ss) + 0.5) / ss
    for cx, cy in np.asarray(centres_mm) * PPM:
        x0, x1 = max(0, int(cx - r) - 1), min(n, int(cx + r) + 2)
        y0, y1 = max(0, int(cy - r) - 1), min(n, int(cy + r) + 2)
        xs = (np.arange(x0, x1)[:, None] + sub).ravel()
        ys = (np.arange(y0, y1)[:, None] + sub).ravel()
        inside = (xs[None, :] - cx) ** 2 + (ys[:, None] - cy) ** 2 <= r * r
        cover[y0:y1, x0:x1] += inside.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3))
    return np.minimum(cover, 1.0)


def _random_centres(count: int, diameter_mm: float, seed: int) -> np.ndarray:
    """Centres at least 3 mm (and 1.5 diameters) apart and from the field edge."""
    rng = np.random.default_rng(seed)
    gap = max(3.0, 1.5 * diameter_mm)
    margin = max(3.0, diameter_mm)
    centres: list[np.ndarray] = []
    while len(centres) < count:
        c = rng.uniform(margin, FIELD_MM - margin, 2)
        if all(np.hypot(*(c - q)) >= gap for q in centres):
            centres.append(c)
    return np.array(centres).reshape(-1, 2)


def _flaky_skin(count, diameter_mm=1.0, contrast=LN_1_3, noise=0.02, seed=0):
    """Linear skin with Gaussian fine texture plus `count` bright discs (x exp(contrast))."""
    cover = _disc_coverage(_random_centres(count, diameter_mm, seed), diameter_mm)
    lin = _skin_linear(_noise(noise, seed + 100))
    return (lin * (1.0 + (math.exp(contrast) - 1.0) * cover)[..., None]).astype(np.float32)


# --- log_luminance ----------------------------------------------------------------------------


def test_log_luminance_hand_worked():
    x = np.array(
        [[1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        np.float32,
    )
    w_r, w_g, _ = (float(w) for w in LUMINANCE_WEIGHTS)  # 0.212671, 0.715160 (IEC 61966-2-1)
    expected = [0.0, math.log(0.5), math.log(w_g), math.log(w_r), math.log(EPS)]
    np.testing.assert_allclose(log_luminance(x), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (6, 3), (5, 7, 3), (2, 3, 4, 3)])
def test_log_luminance_shapes(shape):
    y = log_luminance(np.full(shape, 0.25, np.float32))
    assert y.shape == shape[:-1] and y.dtype == np.float32
    np.testing.assert_allclose(y, math.log(0.25), rtol=1e-6)


@pytest.mark.parametrize("k", [0.3, 0.5, 2.0])
def test_log_luminance_exposure_is_an_offset(k):
    lin = _skin_linear(_noise(0.1, n=20))
    np.testing.assert_allclose(
        log_luminance(lin * np.float32(k)) - log_luminance(lin), math.log(k), atol=2e-6
    )


def test_log_luminance_negative_is_guarded_and_nan_propagates():
    y = log_luminance(np.array([[-0.2, -0.1, -0.3], [np.nan, 0.5, 0.5]], np.float32))
    assert y[0] == pytest.approx(math.log(EPS), rel=1e-6) and np.isnan(y[1])


def test_log_luminance_rejects_encoded():
    with pytest.raises(ValueError, match="encoded_to_linear"):
        log_luminance(np.zeros((2, 2, 3), np.uint8))


# --- roughness --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(40, 40), (60, 90)])
@pytest.mark.parametrize("level", [-1.3, 0.0, -9.0])
def test_roughness_flat_field_is_exactly_zero(shape, level):
    mask = np.ones(shape, bool)
    mask[:5, :7] = False
    assert roughness(np.full(shape, level, np.float32), mask, px_per_mm=PPM) == 0.0


@pytest.mark.parametrize("std", [0.005, 0.02, 0.05])
def test_roughness_of_white_noise_is_100_std(std):
    log_lum = (-1.2 + _noise(std, seed=1)).astype(np.float32)
    assert roughness(log_lum, FULL, px_per_mm=PPM) == pytest.approx(100 * std, rel=0.10)


@pytest.mark.parametrize("k", [0.25, 0.37, 0.5, 2.0])
def test_roughness_exposure_invariant(k):
    lin = _skin_linear(_noise(0.02, seed=2))
    r = roughness(log_luminance(lin), FULL, px_per_mm=PPM)
    assert roughness(log_luminance(lin * np.float32(k)), FULL, px_per_mm=PPM) == pytest.approx(r, abs=1e-6)


@pytest.mark.parametrize("total_log_change", [math.log(1.3), math.log(2.0)])
def test_roughness_slow_gradient_adds_little(total_log_change):
    yy, xx = np.mgrid[0:N_PX, 0:N_PX]
    ramp = total_log_change * (xx + 0.5 * yy) / N_PX
    base = -1.2 + _noise(0.02, seed=3)
    r0 = roughness(base.astype(np.float32), FULL, px_per_mm=PPM)
    r1 = roughness((base + ramp).astype(np.float32), FULL, px_per_mm=PPM)
    assert abs(r1 - r0) < 0.1


def test_roughness_scales_with_amplitude():
    fine = _noise(0.015, seed=4)
    r1 = roughness((-1.0 + fine).astype(np.float32), FULL, px_per_mm=PPM)
    r2 = roughness((-1.0 + 2 * fine).astype(np.float32), FULL, px_per_mm=PPM)
    assert r2 / r1 == pytest.approx(2.0, rel=0.10)


def test_roughness_mask_boundary_does_not_leak():
    yy, xx = np.mgrid[0:N_PX, 0:N_PX]
    mask = (xx - 80) ** 2 + (yy - 80) ** 2 < 60**2
    fine = _noise(0.02, seed=5)
    inside_only = np.where(mask, -1.2 + fine, -1.2)
    # very different surroundings (hair, background) or NaN outside the mask change nothing
    bright_outside = np.where(mask, -1.2 + fine, 0.0)
    nan_outside = np.where(mask, -1.2 + fine, np.nan)
    r = roughness(inside_only.astype(np.float32), mask, px_per_mm=PPM)
    assert r == pytest.approx(2.0, rel=0.10)
    for other in (bright_outside, nan_outside):
        assert roughness(other.astype(np.float32), mask, px_per_mm=PPM) == pytest.approx(r, abs=1e-5)


def test_roughness_sigma_is_in_millimetres():
    # the same physical texture at 8 px/mm (sigma 8 px) reads about the same as at 4 px/mm
    rng = np.random.default_rng(6)
    coarse = rng.normal(0.0, 0.02, (80, 80))
    fine = np.kron(coarse, np.ones((2, 2)))  # each 0.25 mm texel now 2 x 2 px
    r4 = roughness((-1 + coarse).astype(np.float32), np.ones((80, 80), bool), px_per_mm=4.0)
    r8 = roughness((-1 + fine).astype(np.float32), np.ones((160, 160), bool), px_per_mm=8.0)
    assert r8 == pytest.approx(r4, rel=0.05)


def test_roughness_too_thin_mask_is_nan():
    mask = np.zeros((40, 40), bool)
    mask[20:23, :] = True  # 0.75 mm strip: nothing left after eroding by 1 mm
    assert math.isnan(roughness((-1 + _noise(0.02, n=40)).astype(np.float32), mask, px_per_mm=PPM))


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.zeros((8, 8), np.float32), np.zeros((8, 8), bool)), {}, "empty"),
        ((np.zeros((8, 8), np.float32), np.ones((8, 9), bool)), {}, "shape"),
        ((np.zeros((8, 8, 3), np.float32), np.ones((8, 8), bool)), {}, r"\(H, W\)"),
        ((np.zeros((8, 8), np.uint8), np.ones((8, 8), bool)), {}, "floating"),
        ((np.zeros((8, 8), np.float32), np.ones((8, 8), np.uint8)), {}, "bool"),
        ((np.zeros((8, 8), np.float32), np.ones((8, 8), bool)), {"px_per_mm": 0.0}, "px_per_mm"),
        ((np.zeros((8, 8), np.float32), np.ones((8, 8), bool)), {"px_per_mm": np.nan}, "px_per_mm"),
        ((np.zeros((8, 8), np.float32), np.ones((8, 8), bool)), {"px_per_mm": 0.2}, "0.5 px"),
    ],
)
def test_roughness_bad_input_raises(args, kwargs, match):
    kwargs = {"px_per_mm": PPM, **kwargs}
    with pytest.raises(ValueError, match=match):
        roughness(*args, **kwargs)


def test_roughness_nan_inside_mask_raises():
    log_lum = np.zeros((20, 20), np.float32)
    log_lum[5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        roughness(log_lum, np.ones((20, 20), bool), px_per_mm=PPM)


# --- flaking_density --------------------------------------------------------------------------


def test_flaking_hand_worked_two_specks():
    log_lum = np.full((100, 100), -1.2, np.float32)  # 25 x 25 mm = 6.25 cm^2
    log_lum[20:24, 20:24] += math.log(1.3)  # 4 x 4 px = 1 mm squares
    log_lum[60:64, 70:74] += math.log(1.3)
    assert flaking_density(log_lum, np.ones((100, 100), bool), px_per_mm=PPM) == pytest.approx(2 / 6.25)


@pytest.mark.parametrize("count", [8, 24, 48])
@pytest.mark.parametrize("noise", [0.01, 0.03])
def test_flaking_counts_1mm_discs(count, noise):
    lin = _flaky_skin(count, noise=noise, seed=count)
    density = flaking_density(log_luminance(lin), FULL, px_per_mm=PPM)
    assert density == pytest.approx(count / 16.0, rel=0.15)


@pytest.mark.parametrize("diameter_mm", [0.5, 1.5])
def test_flaking_counts_discs_inside_size_range(diameter_mm):
    lin = _flaky_skin(12, diameter_mm=diameter_mm, seed=7)
    assert flaking_density(log_luminance(lin), FULL, px_per_mm=PPM) == pytest.approx(12 / 16, rel=0.15)


@pytest.mark.parametrize("diameter_mm", [0.1, 3.0, 5.0])
def test_flaking_ignores_too_small_and_too_large_discs(diameter_mm):
    lin = _flaky_skin(6 if diameter_mm >= 5 else 16, diameter_mm=diameter_mm, seed=8)
    assert flaking_density(log_luminance(lin), FULL, px_per_mm=PPM) == 0.0


@pytest.mark.parametrize("k", [0.25, 0.37, 2.0])
def test_flaking_exposure_invariant(k):
    lin = _flaky_skin(24, noise=0.02, seed=9)
    d = flaking_density(log_luminance(lin), FULL, px_per_mm=PPM)
    assert d == pytest.approx(24 / 16, rel=0.15)
    assert flaking_density(log_luminance(lin * np.float32(k)), FULL, px_per_mm=PPM) == d


@pytest.mark.parametrize("sigma_mm", [2.0, 4.0, 6.0])
def test_flaking_ignores_smooth_bright_blob(sigma_mm):
    yy, xx = (np.mgrid[0:N_PX, 0:N_PX] + 0.5) / PPM
    blob = math.log(1.3) * np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / (2 * sigma_mm**2))
    lin = _skin_linear(blob + _noise(0.02, seed=10))
    assert flaking_density(log_luminance(lin), FULL, px_per_mm=PPM) == 0.0


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("noise", [0.01, 0.03, 0.06])
def test_flaking_noise_alone_is_at_most_one_per_cm2(seed, noise):
    lin = _skin_linear(_noise(noise, seed=seed))
    assert flaking_density(log_luminance(lin), FULL, px_per_mm=PPM) <= 1.0


def test_flaking_flat_field_is_zero():
    assert flaking_density(np.full((50, 50), -1.0, np.float32), np.ones((50, 50), bool), px_per_mm=PPM) == 0.0


def test_flaking_counts_inside_mask_and_divides_by_mask_area():
    lin = _flaky_skin(24, noise=0.02, seed=11)
    log_lum = log_luminance(lin)
    left = np.zeros((N_PX, N_PX), bool)
    left[:, : N_PX // 2] = True  # 8 cm^2
    specks_left = np.count_nonzero(_random_centres(24, 1.0, 11)[:, 0] < FIELD_MM / 2)
    log_lum[~left] = np.nan  # outside the mask is never read
    assert flaking_density(log_lum, left, px_per_mm=PPM) == pytest.approx(specks_left / 8.0, abs=1.01 / 8)


def test_flaking_ignores_dark_specks():
    lin = _flaky_skin(24, contrast=-math.log(1.3), seed=12)  # pores, not flakes
    assert flaking_density(log_luminance(lin), FULL, px_per_mm=PPM) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_mm": 2.0, "max_mm": 1.0}, "smaller"),
        ({"min_mm": 0.0}, "min_mm"),
        ({"px_per_mm": -4.0}, "px_per_mm"),
        ({"threshold_k": 0.0}, "threshold_k"),
        ({"min_contrast": -0.1}, "min_contrast"),
    ],
)
def test_flaking_bad_parameters_raise(kwargs, match):
    kwargs = {"px_per_mm": PPM, **kwargs}
    with pytest.raises(ValueError, match=match):
        flaking_density(np.zeros((20, 20), np.float32), np.ones((20, 20), bool), **kwargs)


def test_flaking_empty_mask_and_nan_raise():
    with pytest.raises(ValueError, match="empty"):
        flaking_density(np.zeros((20, 20), np.float32), np.zeros((20, 20), bool), px_per_mm=PPM)
    log_lum = np.zeros((20, 20), np.float32)
    log_lum[3, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        flaking_density(log_lum, np.ones((20, 20), bool), px_per_mm=PPM)
