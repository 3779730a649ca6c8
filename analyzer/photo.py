"""Photo intake: from a file path or bytes to an upright sRGB pixel array plus metadata.

One call, :func:`load_photo`, turns what a patient sends (a phone JPEG or HEIC, sometimes a PNG,
WebP or TIFF) into a :class:`Photo`: encoded sRGB pixels in RGB order, upright as a viewer shows
them, with the capture time and plain notes on every conversion made.  Anything that cannot be
measured raises one of the exceptions of :mod:`analyzer.errors`, whose one-line message names the
file, the cause and the fix.

How a file is read
------------------
1. The bytes are read once.  Pillow opens them lazily: only the header (size, mode, EXIF, ICC
   profile) is parsed, so the pixel limit and the minimum size are checked before any pixel is
   decoded.
2. Pixels are decoded by the cheapest decoder that is exact for the file:

   * JPEG with three components: ``cv2.imdecode`` with DCT scaling (``IMREAD_REDUCED_COLOR_k``)
     to the smallest size whose long side is still ``Settings.decode_min_long_side``.  The file
     must end its first picture with an EOI marker, so a truncated file is refused instead of
     being returned with grey rows.
   * 16-bit PNG and TIFF: ``cv2.imdecode(..., IMREAD_UNCHANGED)``, which keeps 16 bits per
     channel (Pillow would truncate 16-bit RGB to 8 bits).
   * Everything else (CMYK JPEG with ``draft``, PNG, WebP, TIFF, HEIF, palette images):
     Pillow with strict loading.

3. Colour: CMYK becomes RGB, alpha is dropped, and an embedded ICC profile that is not sRGB is
   converted to sRGB (relative colorimetric).  HEIF files that carry an ``nclx`` colour
   description instead of an ICC profile are converted by the matrix maths of the primaries.
4. Orientation: the EXIF orientation (values 1-8) is applied.  HEIF is the exception: the HEIF
   transformations (``irot``/``imir``) are authoritative and libheif already applies them, and
   pillow-heif resets the EXIF orientation to 1, so nothing is rotated twice.

References
----------
JEITA CP-3451C (Exif 2.32): Orientation (0x0112), DateTimeOriginal (0x9003), OffsetTimeOriginal
(0x9011), SubSecTimeOriginal (0x9291), Exif IFD pointer (0x8769).
ISO/IEC 10918-1 (ITU-T T.81): JPEG markers SOI, SOS, EOI, RSTn and byte stuffing (B.1.1).
ISO/IEC 15948 (PNG): chunk layout and CRC-32.
ICC.1:2010 (profile version 4.3.0): header, tag table, XYZType, curveType,
parametricCurveType; D50 PCS illuminant (0.9642, 1.0, 0.8249).
ISO/IEC 23008-12 (HEIF): ``irot``/``imir`` transformations; ITU-T H.273: ``nclx`` code points.
IEC 61966-2-1:1999: sRGB primaries, D65 white and transfer function.
Lam (1985), the Bradford chromatic adaptation matrix (as tabulated by B. Lindbloom).
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from .colour.spaces import encoded_to_linear, linear_to_srgb, srgb_to_linear
from .errors import PhotoTooLarge, PhotoTooSmall, UnreadablePhoto, UnsupportedPhoto
from .settings import DEFAULT, Settings

__all__ = ["Photo", "load_photo", "capture_time_from_filename", "read_capture_time"]

pillow_heif.register_heif_opener()
Image.init()

# Formats Pillow may identify.  Restricting the list keeps exotic plugins (EPS needs
# Ghostscript, PSD, FITS, ...) out of the intake path; a file in another format is "not an image
# we can read".  Pillow reports JPEGs with an MPF segment (depth maps, HDR gain maps) as "MPO".
_FORMATS = tuple(
    f for f in ("JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF", "BMP", "GIF") if f in Image.OPEN
)
_FORMATS_READABLE = "JPEG, HEIC, PNG, WebP or TIFF"

_TAG_ORIENTATION = 0x0112
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_ORIGINAL = 0x9011
_TAG_OFFSET_DIGITIZED = 0x9012
_TAG_SUBSEC_ORIGINAL = 0x9291
_TAG_SUBSEC_DIGITIZED = 0x9292

_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
"""Pillow modes of single-channel (black-and-white) images; ``I;16*`` and ``L;*`` are added by
prefix in :func:`_is_grey_mode`."""

_GREY_SPREAD_8BIT = 8
"""8-bit levels.  A pixel whose channels differ by more than this is coloured.  Decoding a grey
picture stored as YCbCr JPEG gives spreads of 0-2 levels; skin under any light gives tens."""

_GREY_MAX_COLOURED_FRACTION = 0.01
"""A photo whose sampled pixels are coloured (see :data:`_GREY_SPREAD_8BIT`) in fewer than this
fraction is black-and-white.  A face covers far more than 1 % of a selfie."""

_GREY_SAMPLES = 65536
"""About this many pixels are sampled (on a regular grid) for the black-and-white check."""

_DCT_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}

# Orientation -> (transposes width and height, note).  Values from Exif 2.32, tag 0x0112.
_ORIENTATIONS = {
    1: (False, ""),
    2: (False, "mirrored left-right"),
    3: (False, "rotated 180 degrees"),
    4: (False, "mirrored top-bottom"),
    5: (True, "transposed"),
    6: (True, "rotated 90 degrees clockwise"),
    7: (True, "transversed"),
    8: (True, "rotated 90 degrees counter-clockwise"),
}

# Colorimetry (IEC 61966-2-1; ICC.1:2010 7.2.16; Bradford matrix of Lam 1985).
_SRGB_PRIMARIES_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
_D65_XY = (0.3127, 0.3290)
_D50_XYZ = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ]
)

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

_FIX_RECOPY = "copy the photo from the phone again, or send the original"
_FIX_FOLDER = "give the path of one photo file"


@dataclass(frozen=True, eq=False)
class Photo:
    """One decoded photo: upright encoded-sRGB pixels and what is known about them.

    Attributes
    ----------
    name : str
        Base file name, or ``"<bytes>"`` (or the ``name=`` given to :func:`load_photo`).  Every
        error message about this photo starts with it.
    pixels : ndarray, shape (H, W, 3), dtype uint8 or uint16
        Encoded sRGB (IEC 61966-2-1), RGB channel order, C-contiguous, upright (EXIF orientation
        applied), converted to sRGB from any embedded ICC profile.  uint16 (0-65535) only for
        16-bit PNG and TIFF sources, else uint8 (0-255).  JPEGs may be DCT-reduced, so H and W
        can be smaller than ``height`` and ``width``.
    width, height : int
        Full image size after orientation (what a viewer shows), px.
    scale : float
        Decoded pixels per full-image pixel, in (0, 1].  Exactly 1/k (1.0, 0.5, 0.25 or 0.125)
        for a JPEG decoded with DCT scaling by k (when a side is not a multiple of k the last
        decoded row or column covers a partial block); otherwise ``pixels.shape[1] / width``.
        A point (x, y) of ``pixels`` lies at (x / scale, y / scale) in the full image.
    captured_at : datetime or None
        When the photo was taken: timezone-aware when the EXIF offset is known, else naive
        (local time of the phone).
    captured_at_source : {"exif", "filename", "none"}
        Where ``captured_at`` comes from.
    format : str
        Pillow format name: ``"JPEG"`` (also for multi-picture JPEGs, which Pillow calls MPO),
        ``"PNG"``, ``"WEBP"``, ``"TIFF"``, ``"HEIF"``, ...
    notes : tuple of str
        Plain sentences on conversions made, e.g. ``"converted from Display P3 ICC profile to
        sRGB"``, ``"CMYK converted to RGB"``, ``"alpha channel dropped"``.
    to_srgb_matrix : ndarray (3, 3) or None
        None when ``pixels`` are sRGB.  For an 8-bit photo whose ICC profile is a matrix/TRC
        profile with the sRGB tone curve (Display P3, as iPhones write), the conversion is only a
        matrix in linear light, so it is deferred to the pixels that are measured:
        ``pixels`` then keep the profile's primaries, and linear sRGB is
        ``encoded_to_linear(pixels) @ to_srgb_matrix.T`` (use :meth:`linear`).  Converting the
        face crop instead of the whole photo saves about 50 ms on a 12 MP photo.
    """

    name: str
    pixels: np.ndarray
    width: int
    height: int
    scale: float
    captured_at: datetime | None
    captured_at_source: str
    format: str
    notes: tuple[str, ...]
    to_srgb_matrix: np.ndarray | None = None

    def linear(self, box: tuple[int, int, int, int] | None = None, *, source: bool = False) -> np.ndarray:
        """Linear sRGB of the whole photo or of ``box`` = (x0, y0, x1, y1) in ``pixels``.

        Returns float32 (h, w, 3); values may leave [0, 1] slightly for colours outside sRGB.
        ``source=True`` skips the deferred profile conversion (linear light in the profile's
        own primaries), for fits that map the source straight to a reference, like a chart's.
        """
        px = self.pixels if box is None else self.pixels[box[1] : box[3], box[0] : box[2]]
        lin = encoded_to_linear(px)
        if self.to_srgb_matrix is None or source:
            return lin
        return cv2.transform(lin, self.to_srgb_matrix.astype(np.float32))


def load_photo(
    source: str | os.PathLike | bytes,
    *,
    settings: Settings = DEFAULT,
    name: str | None = None,
) -> Photo:
    """Read a photo file (or its bytes) into an upright sRGB :class:`Photo`.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray or memoryview
        A path to a JPEG, HEIC/HEIF, PNG, WebP or TIFF file, or the file's bytes.
    settings : Settings, optional
        Uses ``max_pixels`` (checked on the size the header claims, before decoding),
        ``min_image_side`` (px) and ``decode_min_long_side`` (px, JPEG DCT scaling).
    name : str, optional
        Name used in messages and for the capture time from the file name.  Default: the base
        name of the path, or ``"<bytes>"``.

    Returns
    -------
    Photo
        ``pixels`` of shape (H, W, 3), uint8 (uint16 for 16-bit PNG/TIFF), encoded sRGB.

    Raises
    ------
    UnreadablePhoto
        The file is missing, a folder, empty, not an image, truncated or damaged.
    PhotoTooLarge
        The header claims more than ``settings.max_pixels`` pixels (nothing is decoded).
    PhotoTooSmall
        A side is shorter than ``settings.min_image_side``.
    UnsupportedPhoto
        A black-and-white photo, or a pixel format that holds no colour photo.
    TypeError
        ``source`` is of another type (a programming error, not a user error).

    Notes
    -----
    Pillow's own decompression-bomb limit is not allowed to decide: its warning is ignored
    (``max_pixels`` is checked on the header right after opening), and its error, raised for more
    than twice ``PIL.Image.MAX_IMAGE_PIXELS``, becomes :class:`PhotoTooLarge`.  Other warnings
    raised while loading (e.g. Pillow's "Corrupt EXIF data") are returned as notes
    (``"decoder warning: ..."``).  ``warnings.catch_warnings`` is process-wide in Python 3.11, so
    a warning raised by another thread during the load may be recorded here as well.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.full((300, 400, 3), (200, 120, 90), np.uint8)).save(buf, "JPEG")
    >>> photo = load_photo(buf.getvalue(), name="IMG_20261105_093012.jpg")
    >>> photo.pixels.shape, photo.pixels.dtype, photo.scale, photo.format
    ((300, 400, 3), dtype('uint8'), 1.0, 'JPEG')
    >>> photo.captured_at, photo.captured_at_source
    (datetime.datetime(2026, 11, 5, 9, 30, 12), 'filename')
    """
    data, name = _read_source(source, name)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        png_exif = _check_png(data, name)
    else:
        png_exif = None
    with warnings.catch_warnings(record=True) as caught:
        # Decoder warnings ("Corrupt EXIF data", "Possibly corrupt TIFF", ...) become notes
        # instead of lines in a batch log.  Pillow's DecompressionBombWarning is ignored because
        # settings.max_pixels is checked on the header right after opening.
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _open_lazily(data, name, settings)
        with im:
            photo = _load_opened(im, data, name, settings, png_exif)
    if caught:
        extra = tuple(dict.fromkeys(f"decoder warning: {_one_line(w.message)}" for w in caught))
        photo = replace(photo, notes=photo.notes + extra)
    return photo


def capture_time_from_filename(name: str) -> datetime | None:
    """The capture time that phone and messenger file names carry, as a naive datetime.

    Recognised (anywhere in the base name, first valid match wins)::

        IMG_20261105_093012  PXL_20261105_093012345  20261105_093012   (milliseconds kept)
        2026-11-05 09.30.12  2026-11-05 at 09.30.12  2026-11-05_09-30-12
        Screenshot 2026-11-05 at 9.30.12 PM   Screenshot 2026-11-05 093012
        IMG-20261105-WA0001  VID-20261105-WA0001   (WhatsApp: date only, midnight)
        2026-11-05                               (date only, midnight)

    Parameters
    ----------
    name : str
        A file name or path; only the base name is searched.

    Returns
    -------
    datetime or None
        Naive (file names carry no time zone); None when no pattern gives a valid date and time
        (month 13, 30 February, hour 25, ... are rejected).

    Examples
    --------
    >>> capture_time_from_filename("PXL_20261105_093012345.jpg")
    datetime.datetime(2026, 11, 5, 9, 30, 12, 345000)
    >>> capture_time_from_filename("IMG_20261305_093012.jpg") is None
    True
    """
    base = re.split(r"[\\/]", str(name))[-1]
    rejected: list[tuple[int, int]] = []  # spans whose date or time is impossible
    for pattern in _FILENAME_PATTERNS:
        for match in pattern.finditer(base):
            start, end = match.span()
            if any(start < r_end and r_start < end for r_start, r_end in rejected):
                continue  # "2026-11-05 25.00.00" is not "2026-11-05 at midnight"
            when = _datetime_from_match(match)
            if when is not None:
                return when
            rejected.append((start, end))
    return None


def read_capture_time(exif: Image.Exif) -> datetime | None:
    """The capture time recorded in EXIF.

    Uses DateTimeOriginal (0x9003, Exif IFD) with SubSecTimeOriginal (0x9291) and
    OffsetTimeOriginal (0x9011); falls back to DateTimeDigitized (0x9004) with its own sub-second
    and offset tags.  IFD0 DateTime (0x0132) is a modification time and is not used.

    Parameters
    ----------
    exif : PIL.Image.Exif
        As returned by ``Image.getexif()``.

    Returns
    -------
    datetime or None
        Timezone-aware when an offset such as ``"+02:00"`` is recorded, else naive.  None when
        the tags are absent, blank (``"    :  :     :  :  "``), zero or not a valid date.

    Raises
    ------
    OSError, SyntaxError, ValueError, struct.error
        From Pillow, when the Exif IFD itself is damaged (:func:`load_photo` turns these into
        a note).

    Examples
    --------
    >>> exif = Image.Exif()
    >>> exif.get_ifd(0x8769).update({0x9003: "2026:11:05 09:30:12", 0x9011: "+02:00"})
    >>> read_capture_time(exif).isoformat()
    '2026-11-05T09:30:12+02:00'
    """
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    for tag, subsec_tag, offset_tag in (
        (_TAG_DATETIME_ORIGINAL, _TAG_SUBSEC_ORIGINAL, _TAG_OFFSET_ORIGINAL),
        (_TAG_DATETIME_DIGITIZED, _TAG_SUBSEC_DIGITIZED, _TAG_OFFSET_DIGITIZED),
    ):
        # Some writers put the Exif-IFD tags into IFD0; accept them there too.
        text = _exif_text(ifd.get(tag, exif.get(tag)))
        match = _EXIF_DATETIME.fullmatch(text) if text else None
        if match is None:
            continue
        subsec = _exif_text(ifd.get(subsec_tag, exif.get(subsec_tag)))
        micro = int((subsec + "000000")[:6]) if subsec and subsec.isdigit() else 0
        try:
            when = datetime(*(int(g) for g in match.groups()), micro)
        except ValueError:
            continue
        offset = _parse_utc_offset(_exif_text(ifd.get(offset_tag, exif.get(offset_tag))))
        return when.replace(tzinfo=offset) if offset is not None else when
    return None


# --------------------------------------------------------------------------------------------
# Reading and opening
# --------------------------------------------------------------------------------------------


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


def _one_line(exc: BaseException) -> str:
    """The exception's text on one short line (no traceback, no newlines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


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


def _is_grey_mode(mode: str) -> bool:
    return mode in _GREY_MODES or mode.startswith(("I;16", "L;"))


def _black_and_white(name: str) -> UnsupportedPhoto:
    return UnsupportedPhoto(
        name, "a black-and-white photo: redness needs colour", "send the colour original"
    )


def _looks_grey(rgb: np.ndarray) -> bool:
    """True when the three channels are essentially equal (checked on a regular subsample).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8 or uint16
    """
    h, w = rgb.shape[:2]
    step = max(1, int(np.sqrt(h * w / _GREY_SAMPLES)))
    sample = rgb[::step, ::step].astype(np.int32)
    spread = sample.max(axis=2) - sample.min(axis=2)
    threshold = _GREY_SPREAD_8BIT * (257 if rgb.dtype == np.uint16 else 1)
    return float(np.mean(spread > threshold)) < _GREY_MAX_COLOURED_FRACTION


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


class _DecodeErrors:
    """Context manager: decoder exceptions -> UnreadablePhoto naming the file and format."""

    _CAUGHT = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError, cv2.error)

    def __init__(self, name: str, fmt: str) -> None:
        self.name, self.fmt = name, fmt

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not isinstance(exc, self._CAUGHT):
            return False
        text = _one_line(exc)
        if "truncated" in text.lower():
            cause = f"the {self.fmt} data end early (the file is truncated)"
        else:
            cause = f"the {self.fmt} data are damaged ({text})"
        raise UnreadablePhoto(self.name, cause, _FIX_RECOPY) from exc


def _dct_factor(width: int, height: int, min_long_side: int) -> int:
    """Largest k in {8, 4, 2, 1} whose reduced long side ceil(L / k) is still >= min_long_side."""
    long_side = max(width, height)
    for k in (8, 4, 2):
        if -(-long_side // k) >= min_long_side:
            return k
    return 1


def _decode_jpeg_cv2(data: bytes, width: int, height: int, k: int, name: str) -> np.ndarray:
    """Decode a 3-component JPEG with OpenCV at 1/k size; returns RGB uint8 (H, W, 3)."""
    flags = _DCT_FLAGS[k] | cv2.IMREAD_IGNORE_ORIENTATION
    with _DecodeErrors(name, "JPEG"):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    expected = (-(-height // k), -(-width // k), 3)
    if bgr is None or bgr.shape != expected:
        raise UnreadablePhoto(name, "the JPEG data are damaged (the decoder failed)", _FIX_RECOPY)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _is_16bit(im: Image.Image, data: bytes) -> bool:
    """True for 16-bit-per-channel colour PNG and TIFF files (which Pillow truncates to 8 bits)."""
    if im.format == "PNG":
        # IHDR: bit depth at byte 24, colour type at byte 25 (2 = RGB, 6 = RGBA).
        return len(data) > 25 and data[24] == 16 and data[25] in (2, 6)
    if im.format == "TIFF" and im.mode in ("RGB", "RGBA", "RGBX"):
        bits = im.tag_v2.get(258)  # BitsPerSample
        bits = bits if isinstance(bits, tuple) else (bits,)
        return bool(bits) and all(b == 16 for b in bits[:3])
    return False


def _decode_16bit(data: bytes, fmt: str, name: str, notes: list[str]) -> np.ndarray:
    """Decode 16-bit PNG/TIFF with OpenCV (keeps 16 bits); returns RGB uint16 (H, W, 3).

    ``IMREAD_UNCHANGED`` ignores the EXIF orientation, which is applied afterwards like for
    every other decoder.
    """
    with _DecodeErrors(name, fmt):
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise UnreadablePhoto(name, f"the {fmt} data are damaged (the decoder failed)", _FIX_RECOPY)
    if arr.shape[2] == 4:
        notes.append("alpha channel dropped")
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def _cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """Device CMYK (0 = no ink) to RGB without a profile: R = 255 (1 - C)(1 - K), etc.

    Parameters
    ----------
    cmyk : ndarray, shape (H, W, 4), uint8

    Returns
    -------
    ndarray, shape (H, W, 3), uint8
    """
    c = cmyk.astype(np.uint32)
    white = 255 - c[..., 3:4]
    rgb = ((255 - c[..., :3]) * white + 127) // 255
    return rgb.astype(np.uint8)


def _decode_pillow(
    im: Image.Image, name: str, fmt: str, icc: bytes | None, notes: list[str]
) -> tuple[np.ndarray, bool]:
    """Decode with Pillow (strict) to RGB uint8.

    Returns
    -------
    rgb : ndarray, shape (H, W, 3), uint8
    icc_done : bool
        True when the embedded ICC profile was already applied (CMYK with a profile).
    """
    with _DecodeErrors(name, fmt):
        im.load()
        mode = im.mode
        if mode == "CMYK":
            if "adobe" not in im.info and fmt == "JPEG":
                # Pillow assumes Adobe's inverted CMYK for every JPEG; without an Adobe APP14
                # segment the samples are plain CMYK, so undo that inversion.
                im = Image.eval(im, lambda v: 255 - v)
            if icc is not None:
                converted = _convert_with_icc(im, icc, name, notes)
                if converted is not None:
                    return np.asarray(converted), True
            notes.append("CMYK converted to RGB (no colour profile: simple ink formula)")
            return _cmyk_to_rgb(np.asarray(im)), True
        if mode in ("RGBA", "RGBa", "PA", "LA", "La"):
            notes.append("alpha channel dropped")
        if mode in ("P", "PA"):
            notes.append("palette converted to RGB")
            if "transparency" in im.info:
                notes.append("transparency dropped")
        if mode == "RGB":
            rgb = im
        elif mode in ("RGBA", "RGBa", "RGBX", "P", "PA", "YCbCr", "HSV"):
            rgb = im.convert("RGB")
        else:
            raise UnsupportedPhoto(
                name,
                f"its pixels are of type {mode}, not a colour photo",
                "export the photo as an ordinary colour JPEG or PNG",
            )
        return np.asarray(rgb), False


# --------------------------------------------------------------------------------------------
# Colour management
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=16)
def _icc_transform(icc: bytes, mode: str) -> tuple[ImageCms.ImageCmsTransform | None, str]:
    """(transform to sRGB or None when the profile is sRGB already, profile description).

    Raises ``ImageCms.PyCMSError`` or ``OSError`` for an unreadable profile.
    """
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    description = " ".join(ImageCms.getProfileDescription(profile).split()) or "unnamed"
    low = description.lower()
    if mode == "RGB" and "srgb" in low and "linear" not in low:
        return None, description
    transform = ImageCms.buildTransform(
        profile,
        _srgb_profile(),
        mode,
        "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )
    return transform, description


def _convert_with_icc(
    im: Image.Image, icc: bytes, name: str, notes: list[str]
) -> Image.Image | None:
    """Convert an RGB or CMYK Pillow image from its ICC profile to sRGB (relative colorimetric).

    Returns None when nothing was done (sRGB profile, or an unreadable profile, which is noted).
    """
    try:
        transform, description = _icc_transform(icc, im.mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        notes.append(f"embedded ICC profile could not be read ({_one_line(exc)}); assumed sRGB")
        return None
    if transform is None:
        return None
    notes.append(f"converted from {description} ICC profile to sRGB")
    return ImageCms.applyTransform(im, transform)


def _xy_to_xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _rgb_to_xyz_matrix(primaries_xy, white_xy) -> np.ndarray:
    """Linear RGB -> XYZ matrix (3, 3) of an RGB space given by chromaticities (SMPTE RP 177)."""
    p = np.stack([_xy_to_xyz(xy) for xy in primaries_xy], axis=1)
    gains = np.linalg.solve(p, _xy_to_xyz(white_xy))
    return p * gains


def _bradford(src_white_xyz: np.ndarray, dst_white_xyz: np.ndarray) -> np.ndarray:
    """Bradford chromatic adaptation matrix (3, 3) from one white (XYZ) to another."""
    cone_src = _BRADFORD @ src_white_xyz
    cone_dst = _BRADFORD @ dst_white_xyz
    return np.linalg.inv(_BRADFORD) @ np.diag(cone_dst / cone_src) @ _BRADFORD


@lru_cache(maxsize=1)
def _srgb_to_xyz_d50() -> np.ndarray:
    m = _rgb_to_xyz_matrix(_SRGB_PRIMARIES_XY, _D65_XY)
    return _bradford(_xy_to_xyz(_D65_XY), _D50_XYZ) @ m


def _srgb_trc(x: np.ndarray) -> np.ndarray:
    """sRGB decoding function (IEC 61966-2-1) on floats in [0, 1]."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _parametric_curve(kind: int, p: list[float]) -> Callable[[np.ndarray], np.ndarray]:
    """ICC parametricCurveType (ICC.1:2010 10.16), function types 0-4."""
    if kind == 0:
        g = p[0]
        return lambda x: x**g
    if kind == 1:
        g, a, b = p[:3]
        return lambda x: np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g, 0.0)
    if kind == 2:
        g, a, b, c = p[:4]
        return lambda x: np.where(x >= -b / a, np.maximum(a * x + b, 0) ** g + c, c)
    if kind == 3:
        g, a, b, c, d = p[:5]
        return lambda x: np.where(x >= d, np.maximum(a * x + b, 0) ** g, c * x)
    if kind == 4:
        g, a, b, c, d, e, f = p[:7]
        return lambda x: np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f)
    raise ValueError(f"unknown parametric curve type {kind}")


def _icc_curve(icc: bytes, offset: int) -> Callable[[np.ndarray], np.ndarray]:
    """Read a curveType or parametricCurveType tag at ``offset`` as a function on [0, 1]."""
    sig = icc[offset : offset + 4]
    if sig == b"curv":
        (count,) = struct.unpack_from(">I", icc, offset + 8)
        if count == 0:
            return lambda x: x
        if count == 1:
            (gamma_u8f8,) = struct.unpack_from(">H", icc, offset + 12)
            gamma = gamma_u8f8 / 256.0
            return lambda x: x**gamma
        table = np.frombuffer(icc, ">u2", count, offset + 12).astype(np.float64) / 65535.0
        grid = np.linspace(0.0, 1.0, count)
        return lambda x: np.interp(x, grid, table)
    if sig == b"para":
        (kind,) = struct.unpack_from(">H", icc, offset + 8)
        n = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(kind, 0)
        params = [v / 65536.0 for v in struct.unpack_from(f">{n}i", icc, offset + 12)]
        return _parametric_curve(kind, params)
    raise ValueError(f"unsupported curve type {sig!r}")


@lru_cache(maxsize=8)
def _matrix_shaper(icc: bytes) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], str]:
    """Parse an RGB matrix/TRC ICC profile for float conversion (used for 16-bit pixels).

    Returns
    -------
    matrix : ndarray (3, 3)
        Linear source RGB -> linear sRGB (both relative to their white; D50 PCS in between).
    luts : three ndarrays (65536,) float64
        Linearisation of each channel for 16-bit codes.
    description : str

    Raises
    ------
    ValueError
        Not an RGB matrix/TRC profile (e.g. LUT-based ``A2B0``), or malformed.
    """
    if len(icc) < 132 or icc[16:20] != b"RGB " or icc[20:24] != b"XYZ ":
        raise ValueError("not an RGB profile with an XYZ connection space")
    (count,) = struct.unpack_from(">I", icc, 128)
    tags = {}
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
        if off + size > len(icc):
            raise ValueError("tag outside the profile")
        tags[sig] = off
    if b"A2B0" in tags or b"A2B1" in tags:
        raise ValueError("LUT-based profile")
    columns = []
    for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
        off = tags[sig]
        if icc[off : off + 4] != b"XYZ ":
            raise ValueError("colorant tag is not XYZType")
        columns.append([v / 65536.0 for v in struct.unpack_from(">3i", icc, off + 8)])
    source_to_xyz = np.array(columns).T
    matrix = np.linalg.inv(_srgb_to_xyz_d50()) @ source_to_xyz
    codes = np.arange(65536, dtype=np.float64) / 65535.0
    luts = tuple(_icc_curve(icc, tags[sig])(codes) for sig in (b"rTRC", b"gTRC", b"bTRC"))
    try:
        description = " ".join(ImageCms.getProfileDescription(
            ImageCms.ImageCmsProfile(io.BytesIO(icc))).split()) or "unnamed"
    except (ImageCms.PyCMSError, OSError):
        description = "unnamed"
    return matrix, luts, description


def _convert_matrix(
    rgb: np.ndarray, matrix: np.ndarray, luts: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Linearise each channel by its LUT, apply ``matrix``, clip to [0, 1], encode sRGB.

    Parameters
    ----------
    rgb : ndarray (H, W, 3), uint8 or uint16
    matrix : ndarray (3, 3), linear source RGB -> linear sRGB
    luts : three ndarrays of 256 (uint8) or 65536 (uint16) linear values

    Returns
    -------
    ndarray (H, W, 3), same dtype as ``rgb``
    """
    top = 65535.0 if rgb.dtype == np.uint16 else 255.0
    lin = np.stack([luts[c].astype(np.float32)[rgb[..., c]] for c in range(3)], axis=-1)
    out = linear_to_srgb(lin @ matrix.T.astype(np.float32))
    return np.rint(out * top).astype(rgb.dtype)


@lru_cache(maxsize=16)
def _deferred_matrix(icc: bytes) -> tuple[np.ndarray, str] | None:
    """(linear source -> linear sRGB matrix, description) when ``icc`` is a matrix/TRC profile
    whose three tone curves are the sRGB curve (within 0.002 in linear light at every 8-bit
    code) and whose primaries are not sRGB's; else None (convert the pixels as usual)."""
    try:
        matrix, luts, description = _matrix_shaper(icc)
    except (ValueError, KeyError, struct.error):
        return None
    codes = np.arange(256) * 257
    srgb = srgb_to_linear(np.arange(256) / 255.0)
    if any(np.max(np.abs(lut[codes] - srgb)) > 2e-3 for lut in luts):
        return None
    if np.allclose(matrix, np.eye(3), atol=2e-3):
        return None
    matrix = np.array(matrix, dtype=np.float64)
    matrix.setflags(write=False)
    return matrix, description


def _apply_icc_16bit(rgb: np.ndarray, icc: bytes, name: str, notes: list[str]) -> np.ndarray:
    """Convert 16-bit RGB from its ICC profile to sRGB keeping 16 bits.

    Pillow cannot hold 16-bit RGB, so matrix/TRC profiles (all phone and camera profiles:
    Display P3, Adobe RGB, ProPhoto) are converted here by their matrix maths, which is what
    relative colorimetric means for them (ICC.1:2010, F.3).  Other profiles fall back to 8 bits.
    """
    try:
        low = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).lower()
    except (ImageCms.PyCMSError, OSError) as exc:
        notes.append(f"embedded ICC profile could not be read ({_one_line(exc)}); assumed sRGB")
        return rgb
    if "srgb" in low and "linear" not in low:
        return rgb
    try:
        matrix, luts, description = _matrix_shaper(icc)
    except (ValueError, KeyError, struct.error) as exc:
        notes.append(f"reduced to 8 bits to apply the ICC profile ({_one_line(exc)})")
        rgb8 = ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        converted = _convert_with_icc(Image.fromarray(rgb8), icc, name, notes)
        return rgb8 if converted is None else np.asarray(converted)
    notes.append(f"converted from {description} ICC profile to sRGB")
    return _convert_matrix(rgb, matrix, luts)


def _apply_nclx(rgb: np.ndarray, nclx: dict, notes: list[str]) -> np.ndarray:
    """Convert HEIF pixels described by an ``nclx`` box (no ICC profile) to sRGB primaries.

    Only the primaries are converted, for the sRGB transfer (H.273 code 13) or an unspecified
    one (2); BT.709 primaries (code 1) or unspecified primaries (2) are sRGB already.  Other
    transfers (PQ, HLG, ...) are left as they are, with a note.
    """
    primaries = nclx.get("color_primaries", 2)
    transfer = nclx.get("transfer_characteristics", 2)
    if primaries in (1, 2):
        return rgb
    if transfer not in (2, 13):
        notes.append(
            f"HEIF colour description (primaries {primaries}, transfer {transfer}) not converted; "
            "assumed sRGB"
        )
        return rgb
    try:
        prim = tuple(
            (float(nclx[f"color_primary_{c}_x"]), float(nclx[f"color_primary_{c}_y"]))
            for c in ("red", "green", "blue")
        )
        white = (float(nclx["color_primary_white_x"]), float(nclx["color_primary_white_y"]))
    except (KeyError, TypeError, ValueError):
        notes.append(f"HEIF colour primaries {primaries} unknown; assumed sRGB")
        return rgb
    src = _bradford(_xy_to_xyz(white), _xy_to_xyz(_D65_XY)) @ _rgb_to_xyz_matrix(prim, white)
    matrix = np.linalg.inv(_rgb_to_xyz_matrix(_SRGB_PRIMARIES_XY, _D65_XY)) @ src
    levels = 65536 if rgb.dtype == np.uint16 else 256
    lut = _srgb_trc(np.arange(levels) / (levels - 1))
    label = {9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}.get(primaries, f"code {primaries}")
    notes.append(f"converted from {label} primaries (HEIF nclx) to sRGB")
    return _convert_matrix(rgb, matrix, (lut, lut, lut))


# --------------------------------------------------------------------------------------------
# EXIF
# --------------------------------------------------------------------------------------------


def _read_exif(
    im: Image.Image, png_exif: bytes | None, notes: list[str], *, loaded: bool = False
) -> Image.Exif:
    """EXIF of an opened image (an empty Exif when there is none).

    Before loading, a PNG's EXIF comes from the chunk walk (``png_exif``) because Pillow would
    decode the whole PNG to look for an eXIf chunk after the image data.  After loading, Pillow's
    own view is returned: plugins that apply the orientation while decoding (TIFF in Pillow 13)
    remove the tag, so what is left is what still has to be applied.
    """
    try:
        if im.format == "PNG" and not loaded:
            exif = Image.Exif()
            if png_exif:
                exif.load(png_exif)
            return exif
        return im.getexif()
    except (OSError, SyntaxError, ValueError, struct.error, TypeError, KeyError) as exc:
        notes.append(f"EXIF data are damaged and were ignored ({_one_line(exc)})")
        return Image.Exif()


def _orientation(exif: Image.Exif, notes: list[str]) -> int:
    value = exif.get(_TAG_ORIENTATION, 1)
    if isinstance(value, int) and value in _ORIENTATIONS:
        return value
    notes.append(f"EXIF orientation {value!r} is not valid (1-8) and was ignored")
    return 1


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Make an image upright according to its EXIF orientation (1-8).

    Parameters
    ----------
    pixels : ndarray (H, W, C), uint8 or uint16, as stored in the file
    orientation : int
        Exif 0x0112: 1 upright, 2 mirrored, 3 rotated 180, 4 mirrored vertically, 5 transposed,
        6 stored rotated 90 degrees counter-clockwise (turn clockwise to view), 7 transversed,
        8 stored rotated 90 degrees clockwise (turn counter-clockwise to view).

    Returns
    -------
    ndarray, C-contiguous; shape (W, H, C) for 5-8.
    """
    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(pixels), cv2.ROTATE_180)
    if orientation == 8:
        return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return pixels


_EXIF_DATETIME = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_UTC_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _exif_text(value: object) -> str:
    """An EXIF ASCII value as a stripped str ('' for None, blanks or other types)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return ""
    return value.strip("\x00 \t\r\n")


def _parse_utc_offset(text: str) -> timezone | None:
    match = _UTC_OFFSET.fullmatch(text) if text else None
    if match is None:
        if text in ("Z", "+00:00"):
            return timezone.utc
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


# --------------------------------------------------------------------------------------------
# Capture time from file names
# --------------------------------------------------------------------------------------------

_Y = r"(?P<Y>(?:19|20)\d{2})"
_FILENAME_PATTERNS = (
    # 2026-11-05 09.30.12 / 2026-11-05 at 09.30.12 / 2026-11-05_09-30-12 / ... at 9.30.12 PM
    re.compile(
        rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?:\s+at\s+|[ _T-])"
        r"(?P<H>\d{1,2})[.:\-](?P<M>\d{2})[.:\-](?P<S>\d{2})(?!\d)(?:\s*(?P<ampm>[AaPp][Mm])\b)?"
    ),
    # Screenshot 2026-11-05 093012
    re.compile(
        rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})[ _T-](?P<H>\d{{2}})(?P<M>\d{{2}})(?P<S>\d{{2}})(?!\d)"
    ),
    # IMG_20261105_093012, PXL_20261105_093012345, 20261105_093012
    re.compile(
        rf"(?<!\d){_Y}(?P<m>\d{{2}})(?P<d>\d{{2}})[_\-T ](?P<H>\d{{2}})(?P<M>\d{{2}})(?P<S>\d{{2}})"
        r"(?P<ms>\d{3})?(?!\d)"
    ),
    # WhatsApp: IMG-20261105-WA0001, VID-20261105-WA0001 (date only)
    re.compile(rf"(?<![A-Za-z])(?:IMG|VID|PTT|AUD|STK|DOC)-{_Y}(?P<m>\d{{2}})(?P<d>\d{{2}})-WA\d+", re.I),
    # 2026-11-05 (date only)
    re.compile(rf"(?<!\d){_Y}-(?P<m>\d{{2}})-(?P<d>\d{{2}})(?!\d)"),
)


def _datetime_from_match(match: re.Match) -> datetime | None:
    """A naive datetime from a file-name match, or None when the date or time is impossible."""
    parts = match.groupdict()
    hour = int(parts.get("H") or 0)
    ampm = (parts.get("ampm") or "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    try:
        return datetime(
            int(parts["Y"]),
            int(parts["m"]),
            int(parts["d"]),
            hour,
            int(parts.get("M") or 0),
            int(parts.get("S") or 0),
            int(parts.get("ms") or 0) * 1000,
        )
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------


def _load_opened(
    im: Image.Image, data: bytes, name: str, settings: Settings, png_exif: bytes | None
) -> Photo:
    """Everything after a successful lazy open: checks, decoding, colour, orientation, time."""
    pil_format = im.format or "unknown"
    fmt = "JPEG" if pil_format == "MPO" else pil_format
    notes: list[str] = []
    if pil_format == "MPO":
        notes.append("multi-picture JPEG (MPO): the first picture is used")
    stored_w, stored_h = im.size
    _check_dimensions(stored_w, stored_h, name, settings)
    if _is_grey_mode(im.mode):
        raise _black_and_white(name)

    exif = _read_exif(im, png_exif, notes)
    orientation_exif = exif  # EXIF whose orientation is still to be applied (see below)
    icc = im.info.get("icc_profile") or None

    k = 1
    icc_done = False
    if fmt == "JPEG" and not _jpeg_is_complete(data):
        raise UnreadablePhoto(name, "the JPEG data end early (the file is truncated)", _FIX_RECOPY)
    if fmt == "JPEG" and im.mode in ("RGB", "YCbCr"):
        k = _dct_factor(stored_w, stored_h, settings.decode_min_long_side)
        pixels = _decode_jpeg_cv2(data, stored_w, stored_h, k, name)
    elif fmt in ("PNG", "TIFF") and _is_16bit(im, data):
        pixels = _decode_16bit(data, fmt, name, notes)
        # Sorted: Pillow reports a TIFF's size already oriented, OpenCV decodes it as stored.
        if sorted(pixels.shape[:2]) != sorted((stored_h, stored_w)):
            raise UnreadablePhoto(name, f"the {fmt} data are damaged (size mismatch)", _FIX_RECOPY)
    else:
        if fmt == "JPEG":  # CMYK / YCCK: let libjpeg scale the DCT through Pillow's draft
            want = _dct_factor(stored_w, stored_h, settings.decode_min_long_side)
            if want > 1:
                drafted = im.draft(None, (stored_w // want, stored_h // want))
                if drafted is not None:
                    k = round(stored_w / drafted[1][2])
        pixels, icc_done = _decode_pillow(im, name, fmt, icc, notes)
        orientation_exif = _read_exif(im, png_exif, notes, loaded=True)

    if k > 1:
        notes.append(f"decoded at 1/{k} size (JPEG DCT scaling)")
    if _looks_grey(pixels):
        raise _black_and_white(name)

    to_srgb_matrix = None
    if icc is not None and not icc_done:
        if pixels.dtype == np.uint16:
            pixels = _apply_icc_16bit(pixels, icc, name, notes)
        elif (deferred := _deferred_matrix(icc)) is not None:
            to_srgb_matrix, description = deferred
            notes.append(f"{description} ICC profile: converted to sRGB in linear light where measured")
        else:
            converted = _convert_with_icc(Image.fromarray(pixels), icc, name, notes)
            if converted is not None:
                pixels = np.asarray(converted)
    elif icc is None and isinstance(im.info.get("nclx_profile"), dict):
        pixels = _apply_nclx(pixels, im.info["nclx_profile"], notes)

    # HEIF: libheif has applied irot/imir and pillow-heif has reset the EXIF orientation to 1;
    # the HEIF transformations are the authoritative ones (ISO/IEC 23008-12), so never rotate.
    # (Pillow's own AVIF plugin does the opposite: it leaves the pixels as stored and writes
    # irot/imir into the EXIF orientation, so for AVIF the EXIF value is applied.)
    orientation = 1 if fmt == "HEIF" else _orientation(orientation_exif, notes)
    swap, turn_note = _ORIENTATIONS[orientation]
    if orientation != 1:
        pixels = _apply_orientation(pixels, orientation)
        notes.append(f"{turn_note} (EXIF orientation {orientation})")
    if k > 1:  # only JPEGs are reduced, and a JPEG header gives the stored (unrotated) size
        width, height = (stored_h, stored_w) if swap else (stored_w, stored_h)
    else:
        height, width = pixels.shape[:2]
    if not (pixels.flags.c_contiguous and pixels.flags.writeable):
        pixels = np.array(pixels, order="C")  # arrays over Pillow memory are read-only
    scale = 1.0 / k if k > 1 else pixels.shape[1] / width

    try:
        captured_at = read_capture_time(exif)
    except (OSError, SyntaxError, ValueError, struct.error, TypeError, KeyError) as exc:
        notes.append(f"EXIF capture time could not be read ({_one_line(exc)})")
        captured_at = None
    source = "exif"
    if captured_at is None:
        captured_at = capture_time_from_filename(name)
        source = "filename" if captured_at is not None else "none"

    return Photo(
        name=name,
        pixels=pixels,
        width=width,
        height=height,
        scale=scale,
        captured_at=captured_at,
        captured_at_source=source,
        format=fmt,
        notes=tuple(notes),
        to_srgb_matrix=to_srgb_matrix,
    )
