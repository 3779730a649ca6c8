"""Photo intake (analyzer.intake): formats, orientation, colour profiles, limits, bad inputs and
capture time."""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import replace
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps, features

from analyzer.colour.spaces import linear_to_srgb
from analyzer.errors import PhotoTooLarge, PhotoTooSmall, UnreadablePhoto, UnsupportedPhoto
from analyzer.intake import Photo, capture_time_from_filename, load_photo, read_capture_time
from analyzer.intake.container import _jpeg_is_complete
from analyzer.intake.decode import _dct_factor
from analyzer.settings import DEFAULT
from tests._images import (
    P3_PRIMARIES_XY,
    SRGB_PRIMARIES_XY,
    colour_pattern,
    display_p3_icc,
    make_exif,
    rgb_to_xyz_matrix,
    write_bad_inputs,
    write_cmyk_jpeg,
    write_heic,
    write_jpeg,
    write_palette_png,
    write_png,
    write_png16,
    write_rgba_png,
    write_tiff,
    write_tiff16,
    write_webp,
)

SMALL_DECODE = replace(DEFAULT, decode_min_long_side=100)
"""Lets small test JPEGs exercise DCT scaling (largest k with ceil(long / k) >= 100)."""


@pytest.fixture(scope="module")
def pattern() -> np.ndarray:
    return colour_pattern(240, 320)


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return write_bad_inputs(tmp_path_factory.mktemp("bad"))


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in 8-bit levels."""
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _marker_corner(pixels: np.ndarray) -> str:
    """Which corner holds the red marker of colour_pattern: 'tl', 'tr', 'bl' or 'br'."""
    h, w = pixels.shape[:2]
    m = min(h, w) // 16
    corners = {
        "tl": pixels[:m, :m], "tr": pixels[:m, -m:], "bl": pixels[-m:, :m], "br": pixels[-m:, -m:],
    }
    red = {k: float(np.mean(v[..., 0].astype(int) - v[..., 1])) for k, v in corners.items()}
    best = max(red, key=red.get)
    assert red[best] > 150, red
    return best


def _srgb_decode(v):
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(v):
    v = np.clip(np.asarray(v, np.float64), 0, 1)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def _p3_to_srgb(p3_encoded, top=255.0):
    """Expected sRGB code values for Display P3 code values, by matrix maths (D65 both sides,
    so the Bradford adaptation through the D50 PCS cancels)."""
    m = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES_XY)) @ rgb_to_xyz_matrix(P3_PRIMARIES_XY)
    lin = _srgb_decode(np.asarray(p3_encoded, np.float64) / top)
    return _srgb_encode(lin @ m.T) * top


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------

BAD_CASES = {
    "empty": (UnreadablePhoto, "the file is empty"),
    "text": (UnreadablePhoto, "not an image"),
    "truncated": (UnreadablePhoto, "truncated"),
    "broken_png": (UnreadablePhoto, "checksum error in the IDAT chunk"),
    "broken_png_header": (UnreadablePhoto, "checksum error in the IHDR chunk"),
    "huge_png": (
        PhotoTooLarge, "the image is 2500 MP (50000\u00d750000 pixels); photos up to 50 MP are accepted"
    ),
    "grayscale": (UnsupportedPhoto, "a black-and-white photo: redness needs colour"),
    "grey_rgb": (UnsupportedPhoto, "a black-and-white photo: redness needs colour"),
    "tiny": (PhotoTooSmall, "only 1\u00d71 pixels"),
    "small": (PhotoTooSmall, "only 200\u00d750 pixels"),
    "folder": (UnreadablePhoto, "is a folder, not a photo"),
    "missing": (UnreadablePhoto, "file not found"),
}


@pytest.mark.parametrize("kind", list(BAD_CASES))
def test_bad_input_raises_our_exception_naming_file_and_cause(bad, kind):
    cls, cause = BAD_CASES[kind]
    path = bad[kind]
    with pytest.raises(cls) as info:
        load_photo(path)
    err = info.value
    assert type(err) is cls
    assert err.file == path.name
    assert cause in err.cause
    assert err.fix, "every error says what to do"
    text = str(err)
    assert text.startswith(f"{path.name}: ") and cause in text
    assert "\n" not in text and "Traceback" not in text


def test_write_bad_inputs_covers_the_whole_set(bad):
    assert set(BAD_CASES) <= set(bad)
    assert bad["folder"].is_dir() and not bad["missing"].exists()
    assert bad["huge_png"].stat().st_size < 2000


@pytest.mark.parametrize("kind", [k for k in BAD_CASES if k not in ("folder", "missing")])
def test_bad_bytes_fail_the_same_way_and_are_called_bytes(bad, kind):
    cls, cause = BAD_CASES[kind]
    with pytest.raises(cls) as info:
        load_photo(bad[kind].read_bytes())
    assert info.value.file == "<bytes>"
    assert str(info.value).startswith("<bytes>: ") and cause in str(info.value)


def test_huge_header_is_refused_quickly_without_allocating(bad):
    t = time.perf_counter()
    with pytest.raises(PhotoTooLarge):
        load_photo(bad["huge_png"])
    assert time.perf_counter() - t < 0.5  # decoding 2500 MP would take minutes and 7.5 GB


def test_pillow_bomb_warning_does_not_escape_and_our_limit_decides(tmp_path):
    # 10000 x 10000 = 100 MP: above Pillow's warning threshold (89 MP), below its error (179 MP).
    raw = b"\x00" + bytes(30000)
    from tests._images import _png_bytes

    path = tmp_path / "hundred_mp.png"
    path.write_bytes(_png_bytes(10000, 10000, 8, 2, raw * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        with pytest.raises(PhotoTooLarge) as info:
            load_photo(path)
    assert info.value.cause == (
        "the image is 100 MP (10000\u00d710000 pixels); photos up to 50 MP are accepted"
    )


def test_pixel_limit_comes_from_settings(tmp_path, pattern):
    path = write_png(tmp_path / "p.png", pattern)
    with pytest.raises(PhotoTooLarge, match="photos up to 0.05 MP are accepted"):
        load_photo(path, settings=replace(DEFAULT, max_upload_pixels=50_000))
    assert load_photo(path, settings=replace(DEFAULT, max_upload_pixels=320 * 240)).width == 320


def test_min_image_side_is_inclusive(tmp_path, pattern):
    assert load_photo(write_png(tmp_path / "ok.png", pattern[:64, :64])).pixels.shape == (64, 64, 3)
    with pytest.raises(PhotoTooSmall):
        load_photo(write_png(tmp_path / "no.png", pattern[:63, :200]))


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I;16"])
def test_single_channel_modes_are_black_and_white(tmp_path, pattern, mode):
    grey = Image.fromarray(pattern).convert("L")
    im = grey.convert(mode) if mode != "I;16" else Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    path = tmp_path / f"grey_{mode.replace(';', '_')}.png"
    im.save(path)
    assert Image.open(path).mode == mode
    with pytest.raises(UnsupportedPhoto, match="black-and-white"):
        load_photo(path)


def test_a_colour_photo_with_a_small_coloured_area_is_not_black_and_white(tmp_path):
    grey = np.repeat(np.linspace(30, 220, 320).astype(np.uint8)[None, :, None], 240, 0).repeat(3, 2)
    photo = grey.copy()
    photo[100:140, 140:180] = (200, 140, 120)  # 2 % of the picture is skin-coloured
    assert load_photo(write_png(tmp_path / "c.png", photo)).pixels.shape == (240, 320, 3)
    with pytest.raises(UnsupportedPhoto):
        load_photo(write_png(tmp_path / "g.png", grey))


def test_truncated_png_and_truncated_cmyk_jpeg_raise(tmp_path, pattern):
    data = write_png(tmp_path / "a.png", pattern).read_bytes()
    with pytest.raises(UnreadablePhoto, match="truncated"):
        load_photo(data[: len(data) // 2], name="half.png")
    data = write_cmyk_jpeg(tmp_path / "c.jpg", pattern).read_bytes()
    with pytest.raises(UnreadablePhoto, match="truncated"):
        load_photo(data[: len(data) * 2 // 3], name="cut_cmyk.jpg")


def test_progressive_jpeg_loads_and_its_truncation_is_detected(tmp_path, pattern):
    path = tmp_path / "prog.jpg"
    Image.fromarray(pattern).save(path, "JPEG", quality=90, progressive=True)
    data = path.read_bytes()
    assert data.count(b"\xff\xda") > 1  # several scans
    assert _jpeg_is_complete(data)
    assert _mad(load_photo(path).pixels, pattern) < 3
    for cut in (0.3, 0.7, 0.95):
        part = data[: int(len(data) * cut)]
        assert not _jpeg_is_complete(part)
        with pytest.raises(UnreadablePhoto, match="truncated"):
            load_photo(part)


def test_jpeg_with_data_after_eoi_is_accepted(tmp_path, pattern):
    data = write_jpeg(tmp_path / "a.jpg", pattern).read_bytes()
    trailer = data + b"SEFH\x00\x00\x00\x01" + bytes(100) + b"SEFT"  # phone maker trailer
    assert _mad(load_photo(trailer).pixels, pattern) < 3


@pytest.mark.parametrize("fmt", ["jpeg", "png", "png16", "webp", "tiff", "heic", "cmyk"])
def test_a_file_cut_anywhere_raises_our_error_or_loads(tmp_path, fmt):
    small = colour_pattern(96, 128)
    writers = {
        "jpeg": lambda p: write_jpeg(p, small, orientation=6, exif_datetime="2026:11:05 09:30:12"),
        "png": lambda p: write_png(p, small),
        "png16": lambda p: write_png16(p, small, icc=display_p3_icc()),
        "webp": lambda p: write_webp(p, small, lossless=False),
        "tiff": lambda p: write_tiff(p, small),
        "heic": lambda p: write_heic(p, small),
        "cmyk": lambda p: write_cmyk_jpeg(p, small),
    }
    data = writers[fmt](tmp_path / f"a.{fmt}").read_bytes()
    for cut in np.linspace(0.01, 0.98, 12):
        part = data[: int(len(data) * cut)]
        if fmt in ("jpeg", "png", "png16", "cmyk"):  # end markers make truncation certain
            with pytest.raises(UnreadablePhoto):
                load_photo(part)
            continue
        try:
            photo = load_photo(part)
        except UnreadablePhoto as err:
            assert "\n" not in str(err) and str(err).startswith("<bytes>: ")
        else:
            assert photo.pixels.shape[2] == 3


def test_non_photo_sources_are_a_type_error():
    with pytest.raises(TypeError):
        load_photo(12345)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Good inputs: formats and pixel types
# --------------------------------------------------------------------------------------------


def test_plain_jpeg(tmp_path, pattern):
    photo = load_photo(write_jpeg(tmp_path / "plain.jpg", pattern, quality=95))
    assert isinstance(photo, Photo)
    assert photo.pixels.shape == (240, 320, 3) and photo.pixels.dtype == np.uint8
    assert photo.pixels.flags.c_contiguous and not photo.pixels.flags.writeable  # as decoded: read-only
    assert (photo.width, photo.height, photo.scale, photo.format) == (320, 240, 1.0, "JPEG")
    assert photo.name == "plain.jpg" and photo.notes == ()
    assert _mad(photo.pixels, pattern) < 3
    assert _marker_corner(photo.pixels) == "tl"  # RGB order, not BGR, and not rotated


def test_reduced_decode_of_a_4000x3000_jpeg(tmp_path):
    big = cv2.resize(colour_pattern(300, 400), (4000, 3000), interpolation=cv2.INTER_LINEAR)
    photo = load_photo(write_jpeg(tmp_path / "big.jpg", big, quality=85))
    assert photo.pixels.shape == (1500, 2000, 3)
    assert (photo.width, photo.height, photo.scale) == (4000, 3000, 0.5)
    assert any("1/2" in n for n in photo.notes)
    half = cv2.resize(big, (2000, 1500), interpolation=cv2.INTER_AREA)
    assert _mad(photo.pixels, half) < 3


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_jpeg_decoded_in_rgb_order_equals_opencvs_bgr_decode_swapped(tmp_path, k):
    """The decoder asks libjpeg for RGB (cv2.IMREAD_COLOR_RGB) instead of swapping BGR after:
    the pixels must be the same, bit for bit, at every DCT scale."""
    src = cv2.resize(colour_pattern(300, 400), (1600, 1200), interpolation=cv2.INTER_LINEAR)
    path = write_jpeg(tmp_path / "rgb.jpg", src, quality=90)
    photo = load_photo(path, settings=replace(DEFAULT, decode_min_long_side=1600 // k))
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}[k]
    bgr = cv2.imdecode(np.fromfile(path, np.uint8), flag)
    assert photo.scale == 1 / k
    np.testing.assert_array_equal(photo.pixels, bgr[..., ::-1])


@pytest.mark.parametrize(
    ("size", "k"),
    [((4032, 3024), 2), ((4000, 3000), 2), ((3598, 2000), 1), ((3599, 2000), 2),
     ((8064, 6048), 4), ((14400, 100), 8), ((20000, 15000), 8), ((1000, 800), 1), ((3024, 4032), 2)],
)
def test_dct_factor_keeps_the_long_side_at_least_the_setting(size, k):
    assert _dct_factor(*size, 1800) == k


def test_reduced_decode_of_odd_sizes_and_rotated_jpeg(tmp_path):
    src = cv2.resize(colour_pattern(100, 200), (401, 203), interpolation=cv2.INTER_LINEAR)
    photo = load_photo(write_jpeg(tmp_path / "odd.jpg", src), settings=SMALL_DECODE)
    # k = 4: ceil(401 / 4) = 101 >= 100; libjpeg rounds partial blocks up.
    assert photo.pixels.shape == (51, 101, 3) and photo.scale == 0.25
    rotated = load_photo(write_jpeg(tmp_path / "odd6.jpg", src, orientation=6), settings=SMALL_DECODE)
    assert rotated.pixels.shape == (101, 51, 3)
    assert (rotated.width, rotated.height, rotated.scale) == (203, 401, 0.25)
    assert _marker_corner(rotated.pixels) == "tr"


@pytest.mark.parametrize(("orientation", "corner", "transposed"), [(6, "tr", True), (8, "bl", True)])
def test_exif_orientation_of_phone_jpegs(tmp_path, pattern, orientation, corner, transposed):
    # The marker is stored in the top-left corner.  Orientation 6: the viewer turns the stored
    # picture 90 degrees clockwise, so the marker shows at the top right; 8: counter-clockwise,
    # bottom left.
    photo = load_photo(write_jpeg(tmp_path / f"o{orientation}.jpg", pattern, orientation=orientation))
    assert photo.pixels.shape == (320, 240, 3)
    assert (photo.width, photo.height) == (240, 320)
    assert _marker_corner(photo.pixels) == corner
    turned = np.rot90(pattern, -1 if orientation == 6 else 1)
    assert _mad(photo.pixels, turned) < 3
    assert any(f"EXIF orientation {orientation}" in n for n in photo.notes)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_match_pillow_exif_transpose(tmp_path, pattern, orientation):
    path = write_png(tmp_path / f"o{orientation}.png", pattern, orientation=orientation)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    photo = load_photo(path)
    np.testing.assert_array_equal(photo.pixels, expected)
    assert (photo.height, photo.width) == expected.shape[:2]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_apply_orientation_matches_the_exif_definitions(dtype):
    from analyzer.intake.orientation import _apply_orientation

    a = np.arange(5 * 7 * 3).reshape(5, 7, 3).astype(dtype)
    expected = {
        1: a, 2: a[:, ::-1], 3: a[::-1, ::-1], 4: a[::-1],
        5: a.transpose(1, 0, 2), 6: np.rot90(a, -1), 7: a[::-1, ::-1].transpose(1, 0, 2), 8: np.rot90(a, 1),
    }
    for orientation, want in expected.items():
        got = _apply_orientation(a, orientation)
        assert got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want, err_msg=str(orientation))


def test_invalid_orientation_is_ignored_with_a_note(tmp_path, pattern):
    photo = load_photo(write_png(tmp_path / "o9.png", pattern, orientation=9))
    np.testing.assert_array_equal(photo.pixels, pattern)
    assert any("orientation 9" in n for n in photo.notes)


def test_png16_keeps_16_bits(tmp_path):
    rng = np.random.default_rng(3)
    src = (colour_pattern(120, 160).astype(np.uint16) * 257 + rng.integers(0, 257, (120, 160, 3))).astype(
        np.uint16
    )
    photo = load_photo(write_png16(tmp_path / "sixteen.png", src))
    assert photo.pixels.dtype == np.uint16 and photo.pixels.shape == (120, 160, 3)
    assert np.abs(photo.pixels.astype(int) - src).max() <= 1
    assert photo.format == "PNG" and photo.scale == 1.0
    # Also when written by OpenCV (as the integration tests do), and with orientation applied.
    photo6 = load_photo(write_png16(tmp_path / "six6.png", src, orientation=6))
    np.testing.assert_array_equal(photo6.pixels, np.rot90(src, -1))


def test_png16_with_alpha_and_tiff16(tmp_path):
    src = colour_pattern(100, 130).astype(np.uint16) * 257 + 77
    bgra = np.dstack([src[..., ::-1], np.full(src.shape[:2], 65535, np.uint16)])
    cv2.imwrite(str(tmp_path / "a16.png"), bgra)
    photo = load_photo(tmp_path / "a16.png")
    assert photo.pixels.dtype == np.uint16 and "alpha channel dropped" in photo.notes
    np.testing.assert_array_equal(photo.pixels, src)
    tiff = load_photo(write_tiff16(tmp_path / "t16.tif", src))
    assert tiff.pixels.dtype == np.uint16 and tiff.format == "TIFF"
    np.testing.assert_array_equal(tiff.pixels, src)


@pytest.mark.parametrize("adobe", [True, False], ids=["adobe-inverted", "plain"])
def test_cmyk_jpeg_colours_match_the_rgb_original(tmp_path, pattern, adobe):
    path = write_cmyk_jpeg(tmp_path / "cmyk.jpg", pattern, adobe=adobe)
    with Image.open(path) as im:
        assert im.mode == "CMYK" and (("adobe" in im.info) == adobe)
    photo = load_photo(path)
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (240, 320, 3)
    assert _mad(photo.pixels, pattern) < 8
    assert any("CMYK" in n for n in photo.notes)


def test_cmyk_jpeg_made_by_pillow_convert_and_reduced_by_draft(tmp_path, pattern):
    path = tmp_path / "pil_cmyk.jpg"
    Image.fromarray(pattern).convert("CMYK").save(path, "JPEG", quality=95)
    assert _mad(load_photo(path).pixels, pattern) < 8
    reduced = load_photo(path, settings=SMALL_DECODE)  # ceil(320 / 2) = 160 >= 100, / 4 = 80 < 100
    assert reduced.pixels.shape == (120, 160, 3) and reduced.scale == 0.5
    assert _mad(reduced.pixels, cv2.resize(pattern, (160, 120), interpolation=cv2.INTER_AREA)) < 8


def test_rgba_png_drops_alpha(tmp_path, pattern):
    photo = load_photo(write_rgba_png(tmp_path / "alpha.png", pattern))
    np.testing.assert_array_equal(photo.pixels, pattern)  # colour kept, not composited
    assert "alpha channel dropped" in photo.notes


def test_palette_png(tmp_path, pattern):
    few = (pattern // 64 * 64 + 32).astype(np.uint8)  # at most 64 colours: exact palette
    photo = load_photo(write_palette_png(tmp_path / "pal.png", few))
    np.testing.assert_array_equal(photo.pixels, few)
    assert "palette converted to RGB" in photo.notes


def test_webp_lossless_and_lossy(tmp_path, pattern):
    photo = load_photo(write_webp(tmp_path / "a.webp", pattern))
    assert photo.format == "WEBP"
    np.testing.assert_array_equal(photo.pixels, pattern)
    lossy = load_photo(write_webp(tmp_path / "b.webp", pattern, lossless=False, orientation=8))
    assert _mad(lossy.pixels, np.rot90(pattern, 1)) < 4


def test_tiff_with_orientation(tmp_path, pattern):
    photo = load_photo(write_tiff(tmp_path / "a.tif", pattern))
    assert photo.format == "TIFF"
    np.testing.assert_array_equal(photo.pixels, pattern)
    rotated = load_photo(write_tiff(tmp_path / "b.tif", pattern, orientation=6))
    np.testing.assert_array_equal(rotated.pixels, np.rot90(pattern, -1))


def test_heic_upright(tmp_path, pattern):
    photo = load_photo(write_heic(tmp_path / "a.heic", pattern))
    assert photo.format == "HEIF" and photo.pixels.shape == (240, 320, 3)
    assert _mad(photo.pixels, pattern) < 6
    assert _marker_corner(photo.pixels) == "tl"


@pytest.mark.parametrize(("orientation", "corner"), [(6, "tr"), (8, "bl"), (3, "br")])
def test_heic_rotation_is_applied_exactly_once(tmp_path, pattern, orientation, corner):
    # pillow-heif writes the EXIF orientation as irot/imir, libheif applies them on decoding and
    # pillow-heif resets the EXIF orientation to 1: the loader must not rotate again.
    path = write_heic(tmp_path / f"o{orientation}.heic", pattern, orientation=orientation)
    with Image.open(path) as im:
        assert im.getexif().get(0x0112, 1) == 1
    photo = load_photo(path)
    turned = np.rot90(pattern, {6: -1, 8: 1, 3: 2}[orientation])
    assert photo.pixels.shape == turned.shape
    assert (photo.height, photo.width) == turned.shape[:2]
    assert _marker_corner(photo.pixels) == corner
    assert _mad(photo.pixels, turned) < 6


def test_heic_of_a_face_photo(tmp_path, astronaut):
    face = astronaut  # read-only (512, 512, 3) uint8, from tests/conftest.py
    photo = load_photo(write_heic(tmp_path / "IMG_20261105_093012.heic", face, quality=90))
    assert photo.pixels.shape == face.shape
    assert _mad(photo.pixels, face) < 6
    assert photo.captured_at == datetime(2026, 11, 5, 9, 30, 12)


@pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
def test_avif_is_not_among_the_accepted_formats(tmp_path, pattern):
    # Pillow can read AVIF, but the product accepts JPEG, HEIC/HEIF, PNG, WebP and TIFF only
    # (analyzer.vocab.PHOTO_EXTENSIONS), so Pillow's AVIF plugin never parses uploaded bytes.
    path = tmp_path / "o6.avif"
    Image.fromarray(pattern).save(path, "AVIF", quality=95)
    with pytest.raises(UnreadablePhoto) as info:
        load_photo(path)
    assert info.value.message == (
        "o6.avif: the file is in AVIF format; photos are accepted as JPEG, HEIC, PNG, WebP or TIFF. "
        "send the photo as the phone saved it (JPEG or HEIC), or convert it to JPEG"
    )


def test_multi_picture_jpeg_is_reported_as_jpeg(tmp_path, pattern):
    path = tmp_path / "mpo.jpg"
    first = Image.fromarray(pattern)
    first.save(path, "MPO", save_all=True, append_images=[Image.fromarray(pattern[::-1].copy())])
    with Image.open(path) as im:
        assert im.format == "MPO"
    photo = load_photo(path)
    assert photo.format == "JPEG" and _mad(photo.pixels, pattern) < 3
    assert any("MPO" in n for n in photo.notes)


# --------------------------------------------------------------------------------------------
# Colour profiles
# --------------------------------------------------------------------------------------------

P3_SKIN = (200, 120, 90)
P3_GREY = (128, 128, 128)


def _p3_test_image() -> np.ndarray:
    img = np.zeros((128, 192, 3), np.uint8)
    img[:, :96] = P3_SKIN
    img[:, 96:] = P3_GREY
    return img


def _patch_means(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return pixels[32:96, 16:80].reshape(-1, 3).mean(0), pixels[32:96, 112:176].reshape(-1, 3).mean(0)


def test_display_p3_profile_is_valid_and_has_apples_colorants():
    profile = ImageCms.ImageCmsProfile(io.BytesIO(display_p3_icc()))
    assert ImageCms.getProfileDescription(profile).strip() == "Display P3"
    # Colorants of Apple's Display P3 profile (D50-adapted), to 4 decimals.
    p = profile.profile
    got = [p.red_colorant[0], p.green_colorant[0], p.blue_colorant[0]]
    want = [(0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841)]
    np.testing.assert_allclose(got, want, atol=6e-4)


@pytest.mark.parametrize("container", ["jpeg", "png"])
def test_display_p3_is_converted_to_srgb(tmp_path, container):
    icc = display_p3_icc()
    if container == "jpeg":
        path = write_jpeg(tmp_path / "p3.jpg", _p3_test_image(), quality=100, icc=icc, subsampling=0)
    else:
        path = write_png(tmp_path / "p3.png", _p3_test_image(), icc=icc)
    photo = load_photo(path)
    # The P3 -> sRGB conversion is a matrix in linear light, deferred to what is measured:
    # the pixels keep P3 primaries and Photo.linear() gives linear sRGB.
    assert photo.to_srgb_matrix is not None
    assert "Display P3 ICC profile: converted to sRGB in linear light where measured" in photo.notes
    encoded = linear_to_srgb(photo.linear()) * 255
    skin, grey = _patch_means(encoded)
    expected = _p3_to_srgb(P3_SKIN)
    assert np.abs(skin - expected).max() <= 2, (skin, expected)
    assert np.abs(skin - np.array(P3_SKIN)).max() > 8  # the conversion did something
    assert np.abs(grey - 128).max() <= 1 and np.ptp(grey) <= 1  # grey stays grey
    # source=True gives the profile's own linear light, unconverted
    raw_skin, _ = _patch_means(linear_to_srgb(photo.linear(source=True)) * 255)
    assert np.abs(raw_skin - np.array(P3_SKIN)).max() <= 2


def test_display_p3_16bit_png_is_converted_in_16_bits(tmp_path):
    src = _p3_test_image().astype(np.uint16) * 257 + 100
    photo = load_photo(write_png16(tmp_path / "p3_16.png", src, icc=display_p3_icc()))
    assert photo.pixels.dtype == np.uint16
    skin, grey = _patch_means(photo.pixels)
    expected = _p3_to_srgb(src[64, 40], top=65535.0)
    assert np.abs(skin - expected).max() <= 2 * 257, (skin, expected)
    assert np.abs(grey - src[64, 150]).max() <= 257
    assert "converted from Display P3 ICC profile to sRGB" in photo.notes


def test_srgb_profile_is_left_alone(tmp_path, pattern):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = load_photo(write_png(tmp_path / "srgb.png", pattern, icc=srgb))
    np.testing.assert_array_equal(photo.pixels, pattern)
    assert photo.notes == ()


def test_unreadable_icc_profile_is_noted_not_fatal(tmp_path, pattern):
    photo = load_photo(write_png(tmp_path / "badicc.png", pattern, icc=b"not a profile" * 20))
    np.testing.assert_array_equal(photo.pixels, pattern)
    assert any("ICC profile could not be read" in n for n in photo.notes)


def test_heic_with_p3_nclx_is_converted(tmp_path):
    path = tmp_path / "p3.heic"
    Image.fromarray(_p3_test_image()).save(
        path, "HEIF", quality=100, chroma=444, color_primaries=12, transfer_characteristic=13
    )
    photo = load_photo(path)
    skin, grey = _patch_means(photo.pixels)
    assert np.abs(skin - _p3_to_srgb(P3_SKIN)).max() <= 3
    assert np.abs(grey - 128).max() <= 2
    assert any("Display P3" in n for n in photo.notes)


# --------------------------------------------------------------------------------------------
# Bytes input
# --------------------------------------------------------------------------------------------


def test_bytes_input_gives_the_same_photo(tmp_path, pattern):
    path = write_jpeg(tmp_path / "IMG_20261105_093012.jpg", pattern, orientation=8)
    from_path = load_photo(path)
    data = path.read_bytes()
    for source in (data, bytearray(data), memoryview(data)):
        from_bytes = load_photo(source)
        assert from_bytes.name == "<bytes>" and from_bytes.captured_at_source == "none"
        np.testing.assert_array_equal(from_bytes.pixels, from_path.pixels)
        assert (from_bytes.width, from_bytes.height, from_bytes.scale) == (240, 320, 1.0)
    named = load_photo(data, name="IMG_20261105_093012.jpg")
    assert named.name == "IMG_20261105_093012.jpg" and named.captured_at_source == "filename"


# --------------------------------------------------------------------------------------------
# Capture time
# --------------------------------------------------------------------------------------------


def test_exif_capture_time_without_offset_is_naive(tmp_path, pattern):
    path = write_jpeg(tmp_path / "IMG_20200101_000000.jpg", pattern, exif_datetime="2026:11:05 09:30:12")
    photo = load_photo(path)
    assert photo.captured_at == datetime(2026, 11, 5, 9, 30, 12) and photo.captured_at.tzinfo is None
    assert photo.captured_at_source == "exif"  # EXIF wins over the file name


@pytest.mark.parametrize(("offset", "delta"), [("+02:00", 120), ("-05:30", -330), ("+00:00", 0)])
def test_exif_capture_time_with_offset_is_aware(tmp_path, pattern, offset, delta):
    when = datetime(2026, 11, 5, 9, 30, 12)
    path = write_jpeg(tmp_path / "a.jpg", pattern, exif_datetime=when, offset=offset)
    photo = load_photo(path)
    assert photo.captured_at_source == "exif"
    assert photo.captured_at.replace(tzinfo=None) == datetime(2026, 11, 5, 9, 30, 12)
    assert photo.captured_at.utcoffset() == timedelta(minutes=delta)


def test_read_capture_time_edge_cases():
    assert read_capture_time(Image.Exif()) is None
    assert read_capture_time(make_exif(exif_datetime="    :  :     :  :  ")) is None
    assert read_capture_time(make_exif(exif_datetime="0000:00:00 00:00:00")) is None
    assert read_capture_time(make_exif(exif_datetime="2026:13:05 09:30:12")) is None
    exif = make_exif(exif_datetime="2026:11:05 09:30:12", offset="+01:00")
    exif.get_ifd(0x8769)[0x9291] = "25"  # SubSecTimeOriginal: .25 s
    assert read_capture_time(exif).isoformat() == "2026-11-05T09:30:12.250000+01:00"
    exif = make_exif(exif_datetime="2026:11:05 09:30:12", offset="garbage")
    assert read_capture_time(exif) == datetime(2026, 11, 5, 9, 30, 12)


def test_blank_exif_date_falls_back_to_the_file_name(tmp_path, pattern):
    path = write_jpeg(tmp_path / "2026-11-05 09.30.12.jpg", pattern, exif_datetime="    :  :     :  :  ")
    photo = load_photo(path)
    assert photo.captured_at == datetime(2026, 11, 5, 9, 30, 12) and photo.captured_at_source == "filename"


def test_no_capture_time_anywhere(tmp_path, pattern):
    photo = load_photo(write_png(tmp_path / "face.png", pattern))
    assert photo.captured_at is None and photo.captured_at_source == "none"


NOV5 = datetime(2026, 11, 5, 9, 30, 12)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_20261105_093012.jpg", NOV5),
        ("IMG_20261105_093012_HDR.jpg", NOV5),
        ("PXL_20261105_093012345.jpg", NOV5.replace(microsecond=345000)),
        ("PXL_20261105_093012345.MP.jpg", NOV5.replace(microsecond=345000)),
        ("20261105_093012.jpg", NOV5),
        ("IMG-20261105-WA0001.jpg", datetime(2026, 11, 5)),
        ("VID-20261105-WA0001.mp4", datetime(2026, 11, 5)),
        ("2026-11-05 09.30.12.jpg", NOV5),
        ("Photo 2026-11-05 at 09.30.12.jpeg", NOV5),
        ("Screenshot 2026-11-05 at 9.30.12 PM.png", NOV5.replace(hour=21)),
        ("Screenshot 2026-11-05 at 12.05.00\u202fAM.png", datetime(2026, 11, 5, 0, 5)),
        ("Screenshot 2026-11-05 093012.png", NOV5),
        ("Screenshot_2026-11-05-09-30-12.png", NOV5),
        ("2026-11-05_09-30-12.jpg", NOV5),
        ("2026-11-05.jpg", datetime(2026, 11, 5)),
        ("day 3 - 2026-11-05.heic", datetime(2026, 11, 5)),
        ("/some/dir/IMG_20261105_093012.jpg", NOV5),
    ],
)
def test_capture_time_from_filename_patterns(name, expected):
    assert capture_time_from_filename(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "IMG_20261305_093012.jpg",  # month 13
        "IMG_20260230_093012.jpg",  # 30 February
        "IMG_20261105_253012.jpg",  # hour 25
        "IMG_20261105_096012.jpg",  # minute 60
        "IMG-20261332-WA0001.jpg",
        "2026-13-05 09.30.12.jpg",
        "2026-02-30.jpg",
        "Screenshot 2026-11-05 at 13.30.12 PM.png",
        "IMG_1234.JPG",
        "DSC01234.JPG",
        "photo.jpg",
        "<bytes>",
        "12026-11-05.jpg",
    ],
)
def test_capture_time_from_filename_rejects_impossible_or_absent_dates(name):
    assert capture_time_from_filename(name) is None
