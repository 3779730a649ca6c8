"""The stored copy (analyzer.intake.stored_copy): the measured pixels as a metadata-free sRGB JPEG."""

from __future__ import annotations

import io
import struct
from dataclasses import replace

import numpy as np
import pytest
from PIL import ExifTags, Image

from analyzer.errors import PhotoTooLarge, UnreadablePhoto
from analyzer.intake import (
    STORED_QUALITY,
    STORED_SUFFIX,
    encode_stored_copy,
    load_photo,
    stored_copy,
)
from analyzer.settings import DEFAULT
from tests._images import (
    P3_PRIMARIES_XY,
    SRGB_PRIMARIES_XY,
    colour_pattern,
    display_p3_icc,
    make_exif,
    rgb_to_xyz_matrix,
    write_bad_inputs,
    write_jpeg,
    write_png,
    write_png16,
)

Q95_MEAN_ERROR = 1.5
"""8-bit levels: mean absolute difference a quality-95, 4:4:4 JPEG may add to these patterns."""

Q95_MAX_ERROR = 16
"""8-bit levels: largest single-pixel difference allowed (at sharp edges of the marker)."""


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        return np.asarray(im.convert("RGB"))


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, first 6 payload bytes) of every marker segment before the first scan (T.81 B.1)."""
    assert data[:2] == b"\xff\xd8"
    pos, out = 2, []
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        out.append((marker, data[pos + 4 : pos + 4 + min(6, length - 2)]))
        if marker == 0xDA:  # SOS
            return out
        pos += 2 + length


def _assert_no_metadata(data: bytes) -> None:
    markers = [m for m, _ in _segments(data)]
    app = [m for m in markers if 0xE0 <= m <= 0xEF]
    assert app == [0xE0], [hex(m) for m in markers]  # JFIF only: no Exif/XMP (APP1), ICC (APP2)
    assert 0xFE not in markers  # no comment
    assert b"Exif" not in data and b"GPS" not in data and b"ICC_PROFILE" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(im.info)
        assert len(im.getexif()) == 0


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _maxad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def test_constants_have_one_owner():
    assert (STORED_SUFFIX, STORED_QUALITY) == (".jpg", 95)


def test_gps_exif_and_orientation_6_give_an_upright_copy_without_metadata(tmp_path):
    stored = colour_pattern(240, 320)  # red marker in the stored top-left corner
    exif = make_exif(orientation=6, exif_datetime="2026:11:05 09:30:12")
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {1: "N", 2: (52.0, 13.0, 7.5), 3: "E", 4: (13.0, 24.0, 1.0)}
    )
    path = tmp_path / "IMG_gps.jpg"
    Image.fromarray(stored).save(path, "JPEG", quality=95, exif=exif, comment=b"patient 17")
    with Image.open(path) as im:  # the source really carries what must go
        assert im.getexif().get_ifd(ExifTags.IFD.GPSInfo)[1] == "N"
        assert im.getexif()[ExifTags.Base.Orientation] == 6
        assert im.info["comment"] == b"patient 17"

    copy = stored_copy(path, name="IMG_gps.jpg")
    _assert_no_metadata(copy)
    pixels = _decode(copy)
    # Orientation 6: the viewer turns the stored picture 90 degrees clockwise, so the copy is
    # 320 high and 240 wide, and the marker shows at the top right.
    assert pixels.shape == (320, 240, 3)
    turned = np.rot90(stored, -1)
    assert _mad(pixels, turned) < 2 * Q95_MEAN_ERROR  # two JPEG generations
    top_right = pixels[:20, -20:].reshape(-1, 3).mean(0)
    assert top_right[0] - top_right[1] > 150  # the red marker
    measured = load_photo(path).pixels
    assert _mad(pixels, measured) < Q95_MEAN_ERROR
    assert _maxad(pixels, measured) <= Q95_MAX_ERROR


def test_bytes_and_path_and_a_loaded_photo_give_the_same_copy(tmp_path):
    path = write_jpeg(tmp_path / "a.jpg", colour_pattern(200, 300), orientation=3)
    from_path = stored_copy(path, name="a.jpg")
    assert stored_copy(path.read_bytes(), name="a.jpg") == from_path
    assert encode_stored_copy(load_photo(path)) == from_path


def _q95(rgb8: np.ndarray) -> np.ndarray:
    """What a quality-95, 4:4:4 JPEG of ``rgb8`` decodes to (the encoder's own YCbCr rounding
    moves flat colours by a level, so exact expectations go through the same encoder)."""
    buf = io.BytesIO()
    Image.fromarray(rgb8).save(buf, "JPEG", quality=95, subsampling=0)
    return _decode(buf.getvalue())


def test_16bit_png_is_rounded_to_8_bits(tmp_path):
    # v = 257 c + 200 is c + 0.78 in 8-bit units: it rounds to c + 1, while truncation
    # (v >> 8 = c + (c + 200) // 256) gives c for every c < 56.
    base = np.minimum(colour_pattern(120, 160), 254).astype(np.int64)
    src = (base * 257 + 200).astype(np.uint16)
    path = write_png16(tmp_path / "deep.png", src)
    assert load_photo(path).pixels.dtype == np.uint16
    pixels = _decode(stored_copy(path, name="deep.png"))
    rounded = np.rint(src.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(rounded, base + 1)  # the hand-worked rounding
    np.testing.assert_array_equal(pixels, _q95(rounded))
    assert not np.array_equal(pixels, _q95((src >> 8).astype(np.uint8)))  # not truncated


def test_display_p3_jpeg_is_stored_as_srgb_like_photo_linear(tmp_path):
    p3 = np.zeros((128, 192, 3), np.uint8)
    p3[:, :96] = (200, 120, 90)
    p3[:, 96:] = (128, 128, 128)
    path = write_jpeg(tmp_path / "p3.jpg", p3, quality=100, icc=display_p3_icc(), subsampling=0)
    photo = load_photo(path)
    assert photo.to_srgb_matrix is not None  # the conversion was deferred at load
    copy = stored_copy(path, name="p3.jpg")
    _assert_no_metadata(copy)
    pixels = _decode(copy)

    # Hand-worked expectation: P3 -> sRGB is a 3x3 matrix in linear light (both D65).
    m = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES_XY)) @ rgb_to_xyz_matrix(P3_PRIMARIES_XY)
    v = np.array([200, 120, 90]) / 255.0
    lin = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4) @ m.T
    lin = np.clip(lin, 0, 1)
    expected_skin = 255 * np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    skin = pixels[32:96, 16:80].reshape(-1, 3).mean(0)
    grey = pixels[32:96, 112:176].reshape(-1, 3).mean(0)
    assert np.abs(skin - expected_skin).max() <= 2, (skin, expected_skin)
    assert np.abs(skin - np.array([200, 120, 90])).max() > 8  # converted, not the P3 codes
    assert np.abs(grey - 128).max() <= 1

    # The same linear sRGB that Photo.linear() gives the measurements.
    lin_copy = np.where(pixels / 255.0 <= 0.04045, pixels / 255.0 / 12.92,
                        ((pixels / 255.0 + 0.055) / 1.055) ** 2.4)
    assert np.abs(lin_copy - photo.linear()).mean() < 0.004


def test_dct_scaled_jpeg_is_stored_at_the_decoded_size(tmp_path):
    path = write_jpeg(tmp_path / "big.jpg", colour_pattern(300, 400))
    small = replace(DEFAULT, decode_min_long_side=100)  # 400 px -> k = 4, 100x75
    photo = load_photo(path, settings=small)
    assert photo.scale == 0.25
    pixels = _decode(stored_copy(path, name="big.jpg", settings=small))
    assert pixels.shape == photo.pixels.shape == (75, 100, 3)
    assert _decode(stored_copy(path, name="big.jpg")).shape == (300, 400, 3)


def test_too_large_header_raises_the_load_limit(tmp_path):
    bad = write_bad_inputs(tmp_path / "bad")
    with pytest.raises(PhotoTooLarge) as info:
        stored_copy(bad["huge_png"], name="huge.png")
    with pytest.raises(PhotoTooLarge) as load_info:
        load_photo(bad["huge_png"], name="huge.png")
    assert info.value.message == load_info.value.message
    assert info.value.message == (
        "huge.png: the image is 2500 MP (50000\u00d750000 pixels); photos up to 50 MP are accepted. "
        "take the selfie with the phone's normal camera setting, or resize it"
    )
    # The limit comes from the settings, as for load_photo.
    path = write_jpeg(tmp_path / "p.jpg", colour_pattern(240, 320))
    with pytest.raises(PhotoTooLarge, match=r"is 0\.1 MP \(320\u00d7240 pixels\); photos up to 0\.05 MP"):
        stored_copy(path, name="p.jpg", settings=replace(DEFAULT, max_upload_pixels=50_000))


def test_the_pixel_cap_is_checked_again_on_the_stored_copy(tmp_path):
    # A photo loaded under a looser cap (or built by other code) never becomes a copy over the cap.
    photo = load_photo(write_png(tmp_path / "p.png", colour_pattern(240, 320)), name="p.png")
    with pytest.raises(PhotoTooLarge) as info:
        encode_stored_copy(photo, settings=replace(DEFAULT, max_upload_pixels=320 * 240 - 1))
    assert info.value.message == (
        "p.png: the image is 0.1 MP (320\u00d7240 pixels); photos up to 0.076799 MP are accepted. "
        "take the selfie with the phone's normal camera setting, or resize it"
    )
    exact = replace(DEFAULT, max_upload_pixels=320 * 240)
    assert _decode(encode_stored_copy(photo, settings=exact)).shape == (240, 320, 3)


@pytest.mark.parametrize("kind", ["truncated", "broken_png", "text", "empty"])
def test_a_broken_file_raises_unreadable_photo_naming_the_file(tmp_path, kind):
    bad = write_bad_inputs(tmp_path / "bad")
    data = bad[kind].read_bytes()
    with pytest.raises(UnreadablePhoto) as info:
        stored_copy(data, name="IMG_0042.jpg")
    assert info.value.file == "IMG_0042.jpg"
    assert str(info.value).startswith("IMG_0042.jpg: ")
