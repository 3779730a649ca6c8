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

# Formats Pillow may identify.  Restricting the list keeps exotic plugins (EPS needs
# Ghostscript, PSD, FITS, ...) out of the intake path; a file in another format is "not an image
# we can read".  Pillow reports JPEGs with an MPF segment (depth maps, HDR gain maps) as "MPO".
_FORMATS = tuple(
    f for f in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF", "BMP", "GIF") if f in Image.OPEN
)
_FORMATS_READABLE = "JPEG, HEIC, PNG, WebP or TIFF"

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif")


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


def _too_large(name: str, width: int, height: int, settings: Settings) -> PhotoTooLarge:
    limit_mp = settings.max_pixels / 1e6
    return PhotoTooLarge(
        name,
        f"the image claims {width}\u00d7{height} pixels ({width * height / 1e6:.0f} MP), "
        f"over the {limit_mp:g} MP limit",
        f"resize or crop it below {limit_mp:g} MP and try again",
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
    return PhotoTooLarge(
        name,
        f"the image claims more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} MP, "
        f"over the {settings.max_pixels / 1e6:g} MP limit",
        f"resize or crop it below {settings.max_pixels / 1e6:g} MP and try again",
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


def _check_dimensions(width: int, height: int, name: str, settings: Settings) -> None:
    if width * height > settings.max_pixels:
        raise _too_large(name, width, height, settings)
    side = settings.min_image_side
    if min(width, height) < side:
        raise PhotoTooSmall(
            name,
            f"the image is only {width}\u00d7{height} pixels; at least {side} px on each side "
            "are needed",
            "send the original photo, not a thumbnail or a crop",
        )
