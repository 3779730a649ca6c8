"""Reading the source and checking the container before any pixel is decoded.

The bytes are read once; the first bytes name the format; Pillow opens the file lazily (header
only) so that the size limits are checked before decoding; PNG chunks are verified by their
CRC-32 and a JPEG must end its first picture with EOI, so damaged files are refused instead of
being measured with wrong or grey rows.

References
----------
ISO/IEC 10918-1 (ITU-T T.81): JPEG markers SOI, SOS, EOI, RSTn and byte stuffing (B.1.1).
ISO/IEC 15948 (PNG): chunk layout and CRC-32.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image, UnidentifiedImageError

from ..errors import PhotoTooLarge, PhotoTooSmall, UnreadablePhoto
from ..settings import Settings
from ._messages import _FIX_FOLDER, _FIX_RECOPY, _one_line

pillow_heif.register_heif_opener()
Image.init()

# The only Pillow plugins that ever see uploaded bytes: the formats the product accepts
# (analyzer.vocab.PHOTO_EXTENSIONS: JPEG, PNG, WebP, HEIC/HEIF, TIFF), passed to every
# ``Image.open(..., formats=_FORMATS)``.  No other plugin (PSD, EPS, ICNS, SGI, FITS, BMP, GIF,
# AVIF, ...) parses them: each is code that has had its own parser bugs, for formats no phone
# camera writes.  Pillow reports JPEGs with an MPF segment (depth maps, HDR gain maps) as "MPO";
# they are opened by the JPEG plugin's own factory, so "JPEG" covers them.
_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "HEIF")
_FORMATS_READABLE = "JPEG, HEIC, PNG, WebP or TIFF"
_FIX_FORMAT = "send the photo as the phone saved it (JPEG or HEIC), or convert it to JPEG"

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_OTHER_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"%!PS", "PostScript (EPS)"),
    (b"\xc5\xd0\xd3\xc6", "PostScript (EPS)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"icns", "ICNS"),
    (b"\x01\xda", "SGI"),
    (b"\x00\x00\x01\x00", "ICO"),
)
"""Image formats recognised by their first bytes (without any decoder) to name them in the
refusal; everything else unknown is "not an image"."""

_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")


def _read_source(source: str | os.PathLike | bytes, name: str | None) -> tuple[bytes, str]:
    """Return the file's bytes (read once) and the name used in messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = name or "<bytes>"
    else:
        path = Path(os.fspath(source))  # TypeError for other types, on purpose
        name = name or path.name or str(path)
        if path.is_dir():
            raise UnreadablePhoto(name, "is a folder, not a photo", _FIX_FOLDER)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UnreadablePhoto(
                name, "file not found", "check the folder and the spelling of the file name"
            ) from None
        except IsADirectoryError:  # became a folder between the check and the read
            raise UnreadablePhoto(name, "is a folder, not a photo", _FIX_FOLDER) from None
        except PermissionError:
            raise UnreadablePhoto(
                name, "no permission to read the file", "copy the photo to a folder you can read"
            ) from None
        except OSError as exc:
            raise UnreadablePhoto(
                name, f"the file cannot be read ({exc.strerror or type(exc).__name__})", _FIX_RECOPY
            ) from exc
    if not data:
        raise UnreadablePhoto(name, "the file is empty (0 bytes)", _FIX_RECOPY)
    return data, name


def _open_lazily(data: bytes, name: str, settings: Settings) -> Image.Image:
    """Open the bytes with Pillow without decoding pixels; map every failure to our errors."""
    try:
        return Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError:
        raise _too_large_after_bomb(data, name, settings) from None
    except UnidentifiedImageError:
        other = _sniff_other_format(data)
        if other is not None:
            cause = f"the file is in {other} format; photos are accepted as {_FORMATS_READABLE}"
            raise UnreadablePhoto(name, cause, _FIX_FORMAT) from None
        kind = _sniff_format(data)
        if kind is None:
            raise UnreadablePhoto(
                name,
                f"not an image (the contents are not {_FORMATS_READABLE})",
                "send the photo file itself as taken by the phone",
            ) from None
        raise UnreadablePhoto(
            name, f"the {kind} data are damaged (the header cannot be read)", _FIX_RECOPY
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise UnreadablePhoto(
            name, f"the image data are damaged ({_one_line(exc)})", _FIX_RECOPY
        ) from exc


def _sniff_format(data: bytes) -> str | None:
    """Name of the image format the first bytes announce, or None."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _sniff_other_format(data: bytes) -> str | None:
    """Name of an image format the product does not accept, by its first bytes, or None."""
    for signature, kind in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[4:8] == b"ftyp" and data[8:12] in _AVIF_BRANDS:
        return "AVIF"
    return None


def _megapixels(pixels: float, over: float | None = None) -> str:
    """``59.9`` for 59_907_600 pixels: one decimal, no trailing zero; more decimals (up to 3)
    when the rounded figure would not show that ``pixels`` is over the cap ``over`` (pixels)."""
    for digits in (1, 2, 3):
        text = f"{pixels / 1e6:.{digits}f}".rstrip("0").rstrip(".")
        if over is None or float(text) > over / 1e6:
            break
    return text


_FIX_TOO_LARGE = "take the selfie with the phone's normal camera setting, or resize it"


def _too_large(
    name: str, width: int, height: int, settings: Settings, *, deep: bool = False
) -> PhotoTooLarge:
    """The refusal of a photo over the selfie pixel cap (``settings.max_upload_pixels``).

    ``deep``: 16 bits per channel, which needs twice the memory, so half the cap applies."""
    cap = settings.max_upload_pixels
    size = f"{width}\u00d7{height} pixels"
    if deep:
        return PhotoTooLarge(
            name,
            f"the image is {_megapixels(width * height, cap / 2)} MP at 16 bits per channel ({size}); photos "
            f"up to {cap / 1e6:g} MP are accepted, 16-bit ones up to {cap / 2e6:g} MP",
            _FIX_TOO_LARGE + ", or save it with 8 bits per channel",
        )
    return PhotoTooLarge(
        name,
        f"the image is {_megapixels(width * height, cap)} MP ({size}); photos up to {cap / 1e6:g} MP "
        "are accepted",
        _FIX_TOO_LARGE,
    )


def _too_large_after_bomb(data: bytes, name: str, settings: Settings) -> PhotoTooLarge:
    """PhotoTooLarge for a file Pillow refused as a decompression bomb.

    Pillow raised before returning the image object, so the claimed size is read again by the
    format plugin itself (header only, no bomb check, nothing allocated).
    """
    prefix = data[:16]
    for fmt in _FORMATS:
        factory, accept = Image.OPEN[fmt]
        verdict = accept(prefix) if accept is not None else True
        if not verdict or isinstance(verdict, str):  # a str is Pillow's "cannot open" message
            continue
        try:
            width, height = factory(io.BytesIO(data), "").size
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError):
            continue
        return _too_large(name, width, height, settings)
    cap = settings.max_upload_pixels
    return PhotoTooLarge(
        name,
        f"the image is over {_megapixels(2 * (Image.MAX_IMAGE_PIXELS or 0))} MP; photos up to "
        f"{cap / 1e6:g} MP are accepted",
        _FIX_TOO_LARGE,
    )


# --------------------------------------------------------------------------------------------
# Structure checks done before decoding
# --------------------------------------------------------------------------------------------


def _check_png(data: bytes, name: str) -> bytes | None:
    """Verify every PNG chunk's length and CRC-32; return the eXIf chunk's payload if any.

    libpng and Pillow do not both verify every CRC (Pillow skips the IDAT checksums), so a
    damaged file could decode to wrong pixels.  The walk costs one ``zlib.crc32`` over the file
    (about 1 ms per MB).  The eXIf payload is returned so that reading EXIF never forces Pillow
    to decode a PNG whose eXIf chunk follows the image data.
    """
    pos, end = 8, len(data)
    exif = None
    seen_idat = False
    view = memoryview(data)
    while True:
        if pos + 12 > end:
            raise UnreadablePhoto(name, "the PNG data end early (the file is truncated)", _FIX_RECOPY)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        stop = pos + 8 + length
        if stop + 4 > end:
            raise UnreadablePhoto(name, "the PNG data end early (the file is truncated)", _FIX_RECOPY)
        (crc,) = struct.unpack_from(">I", data, stop)
        if zlib.crc32(view[pos + 4 : stop]) != crc:
            label = ctype.decode("latin-1") if ctype.isalpha() else "a"
            raise UnreadablePhoto(
                name, f"the PNG data are damaged (checksum error in the {label} chunk)", _FIX_RECOPY
            )
        if ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"eXIf":
            exif = bytes(view[pos + 8 : stop])
        elif ctype == b"IEND":
            break
        pos = stop + 4
    if not seen_idat:
        raise UnreadablePhoto(name, "the PNG data are damaged (no image data)", _FIX_RECOPY)
    return exif


# A marker inside entropy-coded JPEG data: 0xFF followed by anything but a stuffed zero, a
# restart marker RST0-RST7 or another fill byte (ITU-T T.81, B.1.1.2 and B.1.1.5).
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_is_complete(data: bytes) -> bool:
    """True when the first picture of a JPEG file ends with its EOI marker (FFD9).

    The marker segments are walked by their lengths up to the first SOS; from there the
    entropy-coded data are searched for the next real marker.  Further marker segments (the
    tables and scans of a progressive JPEG) are skipped by length until EOI.  Data after EOI
    (MPF pictures, maker trailers) are allowed.  Cost: one regex scan, < 1 ms per MB.
    """
    end = len(data)
    pos = 2  # after SOI
    in_scan = False
    while pos < end:
        if in_scan:
            match = _JPEG_MARKER.search(data, pos)
            if match is None:
                return False
            pos = match.start()
        if pos + 2 > end:
            return False
        if data[pos] != 0xFF:  # junk between header segments (tolerated by libjpeg): skip it
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return False
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            pos += 2
            continue
        if pos + 4 > end:
            return False
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
        if marker == 0xDA:
            in_scan = True
    return False


def _check_dimensions(
    width: int, height: int, name: str, settings: Settings, *, deep: bool = False
) -> None:
    """The selfie pixel cap and the minimum size, on the size the header claims (nothing decoded).

    ``deep``: 16 bits per channel (twice the memory per pixel): half of
    ``settings.max_upload_pixels`` is accepted."""
    if width * height > (settings.max_upload_pixels // 2 if deep else settings.max_upload_pixels):
        raise _too_large(name, width, height, settings, deep=deep)
    side = settings.min_image_side
    if min(width, height) < side:
        raise PhotoTooSmall(
            name,
            f"the image is only {width}\u00d7{height} pixels; at least {side} px on each side "
            "are needed",
            "send the original photo, not a thumbnail or a crop",
        )
