"""Card-free white balance (analyzer.colour.balance).

Known casts on synthetic grey-world scenes must be recovered; every method must ignore exposure;
the context built from MediaPipe landmarks on NASA's astronaut portrait must put the face mask
on the face and the sclera mask on the whites of her eyes.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from analyzer.colour.balance import (
    BALANCE_METHODS,
    SCLERA_MIN_FULL_RES_PX,
    BalanceContext,
    apply_gains,
    build_context,
    estimate_gains,
    sclera_visible,
    validate_method,
)
from analyzer.colour.spaces import encoded_to_linear, linear_to_srgb, luminance
from analyzer.face.mesh import FACE_OVAL, LEFT_EYE, LEFT_IRIS, RIGHT_EYE, RIGHT_IRIS
from analyzer.settings import DEFAULT


def mediapipe_points(rgb: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks in pixels, from the project's MediaPipe wrapper."""
    from analyzer.face.landmarks import Landmarker

    with Landmarker() as lm:
        return lm.detect(rgb, name="astronaut portrait").points.astype(np.float64)


@pytest.fixture(scope="module")
def portrait(astronaut) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut x2 (1024 px, uint8 RGB) and its landmarks."""
    img = cv2.resize(np.asarray(astronaut), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    return img, mediapipe_points(img)


@pytest.fixture(scope="module")
def ctx(portrait) -> BalanceContext:
    return build_context(*portrait)


def grey_world_scene(seed: int = 0, blocks: int = 48, px: int = 8) -> np.ndarray:
    """A Mondrian of random colours, each channel drawn from the same distribution and then
    scaled so the three channel means are exactly equal: (blocks*px)^2 x 3 float32, linear."""
    rng = np.random.default_rng(seed)
    colours = rng.uniform(0.03, 0.7, (blocks, blocks, 3))
    colours /= colours.reshape(-1, 3).mean(0) / colours.mean()
    return np.kron(colours, np.ones((px, px, 1))).astype(np.float32)


def plain_context(linear: np.ndarray) -> BalanceContext:
    no = np.zeros(linear.shape[:2], bool)
    return BalanceContext(linear=linear, face_mask=no, sclera_mask=no)


# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method", ["grey_world", "grey_world_background", "shades_of_grey", "grey_edge", "grey_edge_background"]
)
@pytest.mark.parametrize("cast", [(1.3, 1.0, 0.6), (0.75, 1.0, 1.2)])
def test_grey_world_family_recovers_a_known_cast(method, cast):
    scene = grey_world_scene()
    expected = 1.0 / np.asarray(cast)
    gains = estimate_gains(method, plain_context(scene * np.asarray(cast, np.float32)))
    assert gains[1] == 1.0
    np.testing.assert_allclose(gains, expected, rtol=0.03)
    if method == "grey_world":  # exact by construction
        np.testing.assert_allclose(gains, expected, rtol=1e-5)


def test_grey_world_of_a_hand_worked_scene():
    lin = np.zeros((2, 2, 3), np.float32)
    lin[0, 0], lin[0, 1], lin[1, 0], lin[1, 1] = (
        (0.2, 0.1, 0.05),
        (0.4, 0.3, 0.15),
        (0.1, 0.1, 0.1),
        (0.1, 0.3, 0.1),
    )
    # channel means (0.2, 0.2, 0.1) -> gains (1, 1, 2)
    np.testing.assert_allclose(estimate_gains("grey_world", plain_context(lin)), [1.0, 1.0, 2.0], rtol=1e-6)
    # shades of grey with p = 6 on the same pixels: (mean v^6)^(1/6) per channel, by hand
    p6 = (np.array([[0.2, 0.1, 0.05], [0.4, 0.3, 0.15], [0.1, 0.1, 0.1], [0.1, 0.3, 0.1]]) ** 6).mean(0) ** (
        1 / 6
    )
    np.testing.assert_allclose(estimate_gains("shades_of_grey", plain_context(lin)), p6[1] / p6, rtol=1e-5)


@pytest.mark.parametrize("method", list(BALANCE_METHODS))
def test_every_method_ignores_exposure(ctx, method):
    base = estimate_gains(method, ctx)
    assert base.shape == (3,) and base.dtype == np.float64
    assert base[1] == 1.0 and np.all(np.isfinite(base)) and np.all(base > 0)
    for k in (0.5, 0.7, 2.0):
        scaled = dataclasses.replace(ctx, linear=ctx.linear * np.float32(k))
        rtol = 1e-3 if not (method.startswith("xphoto") and k == 0.7) else 5e-3  # 16-bit rounding
        np.testing.assert_allclose(estimate_gains(method, scaled), base, rtol=rtol, err_msg=f"{method} x{k}")


def test_methods_on_the_portrait_follow_a_cast(portrait, ctx):
    """Under a diagonal cast every estimator that is equivariant by construction returns the
    old gains divided by the cast (same pixels, same statistics)."""
    img, pts = portrait
    cast = np.array([1.2, 1.0, 0.8], np.float32)
    dim = np.float32(0.6)  # headroom, so that the cast clips nothing new
    plain = build_context(np.round(linear_to_srgb(encoded_to_linear(img) * dim) * 255).astype(np.uint8), pts)
    warm = build_context(
        np.round(linear_to_srgb(encoded_to_linear(img) * dim * cast) * 255).astype(np.uint8), pts
    )
    for method in (
        "grey_world",
        "grey_world_background",
        "shades_of_grey",
        "grey_edge",
        "white_patch",
    ):
        np.testing.assert_allclose(
            estimate_gains(method, warm) * cast, estimate_gains(method, plain), rtol=0.02, err_msg=method
        )


def test_sclera_follows_a_cast_at_selfie_resolution(astronaut):
    """At selfie resolution (astronaut x6, face >= 4 px/mm) the sclera is trusted, and a
    diagonal cast divides its gains by the cast."""
    big = cv2.resize(np.asarray(astronaut), (3072, 3072), interpolation=cv2.INTER_CUBIC)
    pts = mediapipe_points(big)
    cast = np.array([1.2, 1.0, 0.8], np.float32)
    lin = encoded_to_linear(big) * np.float32(0.5)
    plain = build_context(np.round(linear_to_srgb(lin) * 255).astype(np.uint8), pts)
    warm = build_context(np.round(linear_to_srgb(lin * cast) * 255).astype(np.uint8), pts)
    assert plain.sclera_px >= SCLERA_MIN_FULL_RES_PX and sclera_visible(plain) and sclera_visible(warm)
    np.testing.assert_allclose(estimate_gains("sclera", warm) * cast, estimate_gains("sclera", plain), rtol=0.02)


def test_validate_method_lists_the_valid_names():
    assert validate_method("sclera") == "sclera"
    with pytest.raises(ValueError) as err:
        validate_method("nope")
    for name in (
        "none",
        "grey_world",
        "shades_of_grey",
        "grey_edge",
        "white_patch",
        "sclera",
        "xphoto_learning",
    ):
        assert name in str(err.value)
    with pytest.raises(ValueError):
        estimate_gains("nope", plain_context(grey_world_scene()))
    assert estimate_gains("none", plain_context(grey_world_scene())).tolist() == [1.0, 1.0, 1.0]


def test_degenerate_contexts_give_finite_gains():
    black = plain_context(np.zeros((32, 32, 3), np.float32))
    clipped = dataclasses.replace(
        plain_context(np.ones((32, 32, 3), np.float32)), unclipped=np.zeros((32, 32), bool)
    )
    for method in BALANCE_METHODS:
        for c in (black, clipped):
            g = estimate_gains(method, c)
            assert np.all(np.isfinite(g)) and np.all(g > 0) and g[1] == 1.0, method


def test_build_context_puts_the_masks_on_the_face_and_the_eyes(portrait, ctx):
    img, pts = portrait
    h, w = ctx.linear.shape[:2]
    assert max(h, w) == 512 and ctx.linear.dtype == np.float32
    assert ctx.face_mask.dtype == bool and ctx.sclera_mask.dtype == bool and ctx.unclipped.dtype == bool
    s = w / img.shape[1]
    p = pts[:, :2] * s

    # face: the nose tip (landmark 1) and the face centre are inside, the corners are not
    assert ctx.face_mask[int(p[1, 1]), int(p[1, 0])]
    assert not ctx.face_mask[0, 0] and not ctx.face_mask[-1, -1]
    ys, xs = np.nonzero(ctx.face_mask)
    oval = p[list(FACE_OVAL)]
    np.testing.assert_allclose(
        [xs.min(), xs.max(), ys.min(), ys.max()],
        [oval[:, 0].min(), oval[:, 0].max(), oval[:, 1].min(), oval[:, 1].max()],
        atol=2,
    )
    assert 0.02 < ctx.face_mask.mean() < 0.2

    # sclera: not empty, on both eyes, inside the eye contours, outside the irises, bright
    assert ctx.sclera_mask.sum() >= 20
    eyes = np.zeros((h, w), np.uint8)
    for eye in (LEFT_EYE, RIGHT_EYE):
        cv2.fillPoly(eyes, [np.round(p[list(eye)]).astype(np.int32)], 1)
    eyes = cv2.dilate(eyes, np.ones((3, 3), np.uint8)).astype(bool)
    assert np.all(eyes[ctx.sclera_mask])
    yy, xx = np.nonzero(ctx.sclera_mask)
    lum = luminance(ctx.linear)
    irises = np.zeros((h, w), np.uint8)
    for iris in (LEFT_IRIS, RIGHT_IRIS):
        centre = p[iris[0]]
        radius = np.linalg.norm(p[list(iris[1:])] - centre, axis=1).mean()
        assert np.all(np.hypot(xx - centre[0], yy - centre[1]) > radius)
        near = np.hypot(xx - centre[0], yy - centre[1]) < 4 * radius
        assert near.sum() >= 5, f"too little sclera beside iris {iris[0]}"
        cv2.circle(irises, tuple(np.round(centre).astype(int)), max(1, int(0.8 * radius)), 1, -1)
    # the whites are much brighter than the irises (shadowed eye sockets make them darker than
    # lit skin, so that is no test) and closer to neutral than the skin
    assert np.median(lum[ctx.sclera_mask]) > 3 * np.median(lum[irises.astype(bool)])

    def off_grey(mask):
        rgb = ctx.linear[mask].mean(0)
        return np.abs(rgb / rgb.sum() - 1 / 3).sum()

    assert off_grey(ctx.sclera_mask) < off_grey(ctx.face_mask)


def test_context_from_uint16_matches_uint8(portrait):
    img, pts = portrait
    c8 = build_context(img, pts)
    c16 = build_context(img.astype(np.uint16) * 257, pts)
    # 8-bit averages are rounded to whole codes (half a code is at most 0.005 in linear light),
    # 16-bit ones are not; the gains agree
    np.testing.assert_allclose(c16.linear, c8.linear, atol=6e-3)
    np.testing.assert_allclose(estimate_gains("grey_world", c16), estimate_gains("grey_world", c8), rtol=2e-3)
    # the sclera of this small portrait is ~45 px at the context scale: a pixel more or less
    np.testing.assert_allclose(estimate_gains("sclera", c16), estimate_gains("sclera", c8), rtol=0.02)
    assert (c16.face_mask == c8.face_mask).all()
    with pytest.raises(TypeError):
        build_context(img.astype(np.float32), pts)
    with pytest.raises(ValueError):
        build_context(img, pts[:100])


def test_clipped_level_comes_from_settings(portrait):
    _, pts = portrait
    flat = np.full((1024, 1024, 3), 245, np.uint8)
    assert build_context(flat, pts).unclipped.all()  # 245 < 250 = DEFAULT.clipped_level x 255
    assert not build_context(flat + 5, pts).unclipped.any()  # 250 is clipped
    strict = dataclasses.replace(DEFAULT, clipped_level=240 / 255)
    assert not build_context(flat, pts, settings=strict).unclipped.any()
    assert build_context(flat.astype(np.uint16) * 257, pts).unclipped.all()  # 62965 < 64250


def test_sclera_falls_back_to_no_correction_when_the_eyes_are_not_usable(ctx):
    closed = dataclasses.replace(
        ctx, sclera_mask=np.zeros_like(ctx.sclera_mask), sclera_white=None, sclera_px=0
    )
    assert not sclera_visible(closed)
    np.testing.assert_array_equal(estimate_gains("sclera", closed), np.ones(3))  # SCLERA_FALLBACK
    # This 1024-px portrait's eyes give fewer sclera pixels than the method trusts: same fallback.
    assert 0 < ctx.sclera_px < SCLERA_MIN_FULL_RES_PX and not sclera_visible(ctx)
    np.testing.assert_array_equal(estimate_gains("sclera", ctx), np.ones(3))
    # With enough pixels it uses the sclera measured at full resolution, made grey.
    trusted = dataclasses.replace(ctx, sclera_px=SCLERA_MIN_FULL_RES_PX)
    white = ctx.sclera_white
    np.testing.assert_allclose(estimate_gains("sclera", trusted), white[1] / white, rtol=1e-5)
    # Without the full-resolution measurement, the 512-px context mask of this small portrait
    # mixes lid skin into the sclera (EI 14.4 vs skin 17.6, less than 5 below): not trusted.
    small = dataclasses.replace(ctx, sclera_white=None, sclera_px=0)
    assert not sclera_visible(small)
    np.testing.assert_array_equal(estimate_gains("sclera", small), np.ones(3))


def test_no_sclera_at_full_resolution_is_not_overruled_by_the_context_mask(portrait, monkeypatch):
    """When the full-resolution search finds no sclera, the 512-px mask is cleared too, so the
    method falls back instead of trusting a handful of coarse pixels."""
    import analyzer.colour.balance as balance

    img, pts = portrait
    monkeypatch.setattr(balance, "_sclera_full_resolution", lambda rgb, p, clipped_level: (None, 0))
    ctx = build_context(img, pts)
    assert not ctx.sclera_mask.any() and not sclera_visible(ctx)
    np.testing.assert_array_equal(estimate_gains("sclera", ctx), np.ones(3))


def test_apply_gains_gives_numpys_float32_product_in_a_new_array():
    lin = np.random.default_rng(0).random((37, 53, 3), dtype=np.float32)
    gains = np.array([1.0312345, 1.0, 1.1234567])
    out = apply_gains(lin, gains)
    assert out.dtype == np.float32 and out is not lin
    np.testing.assert_array_equal(out, lin * gains.astype(np.float32))
    with pytest.raises(ValueError, match="3 values"):
        apply_gains(lin, [1.0, 2.0])
