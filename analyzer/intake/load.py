"""The load: one call from a file or bytes to an upright sRGB :class:`Photo`.

The steps live in their own modules (:mod:`.container`, :mod:`.decode`, :mod:`.icc`,
:mod:`.orientation`, :mod:`.capture_time`); this module runs them in order and builds the result.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass, replace
from datetime import datetime

import cv2
import numpy as np
from PIL import Image

from ..colour.spaces import encoded_to_linear
from ..errors import UnreadablePhoto
from ..settings import DEFAULT, Settings
from ._messages import _FIX_RECOPY, _one_line
from .capture_time import capture_time_from_filename, read_capture_time
from .container import _check_dimensions, _check_png, _jpeg_is_complete, _open_lazily, _read_source
from .decode import (
    _black_and_white,
    _dct_factor,
    _decode_16bit,
    _decode_jpeg_cv2,
    _decode_pillow,
    _is_16bit,
    _is_grey_mode,
    _looks_grey,
)
from .icc import _apply_icc_16bit, _apply_nclx, _convert_with_icc, _deferred_matrix
from .orientation import _ORIENTATIONS, _apply_orientation, _orientation, _read_exif

__all__ = ["Photo", "load_photo"]


@dataclass(frozen=True, eq=False)
class Photo:
    """One decoded photo: upright encoded-sRGB pixels and what is known about them.

    Attributes
    ----------
    name : str
        Base file name, or ``"<bytes>"`` (or the ``name=`` given to :func:`load_photo`).  Every
        error message about this photo starts with it.
    pixels : ndarray, shape (H, W, 3), dtype uint8 or uint16
        Encoded sRGB (IEC 61966-2-1), RGB channel order, C-contiguous, upright (EXIF
        orientation applied), converted to sRGB from any embedded ICC profile; read-only when
        made by :func:`load_photo`.  uint16 (0-65535) only for 16-bit PNG and TIFF sources, else
        uint8 (0-255).  JPEGs may be DCT-reduced, so H and W can be smaller than ``height`` and
        ``width``.
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
        Uses ``max_upload_pixels`` (the selfie pixel cap, checked on the size and bit depth the
        header claims, before decoding; half of it for 16-bit PNG and TIFF), ``min_image_side``
        (px) and ``decode_min_long_side`` (px, JPEG DCT scaling).
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
        The file is missing, a folder, empty, not an image, truncated or damaged, or in a format
        the product does not accept (only the JPEG, PNG, WebP, HEIF and TIFF decoders are
        allowed to parse the bytes: ``Image.open(..., formats=...)``).
    PhotoTooLarge
        The header claims more than ``settings.max_upload_pixels`` pixels (half of it at 16 bits
        per channel); nothing is decoded.
    PhotoTooSmall
        A side is shorter than ``settings.min_image_side``.
    UnsupportedPhoto
        A black-and-white photo, or a pixel format that holds no colour photo.
    TypeError
        ``source`` is of another type (a programming error, not a user error).

    Notes
    -----
    Pillow's own decompression-bomb limit is not allowed to decide: its warning is ignored
    (``max_upload_pixels`` is checked on the header right after opening), and its error, raised for more
    than twice ``PIL.Image.MAX_IMAGE_PIXELS``, becomes :class:`PhotoTooLarge`.  Other warnings
    raised while loading (e.g. Pillow's "Corrupt EXIF data") are returned as notes
    (``"decoder warning: ..."``).  ``warnings.catch_warnings`` is process-wide in Python 3.11, so
    a warning raised by another thread during the load may be recorded here as well.

    Examples
    --------
    >>> import io
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
        # settings.max_upload_pixels is checked on the header right after opening.
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = _open_lazily(data, name, settings)
        with im:
            photo = _load_opened(im, data, name, settings, png_exif)
    if caught:
        extra = tuple(dict.fromkeys(f"decoder warning: {_one_line(w.message)}" for w in caught))
        photo = replace(photo, notes=photo.notes + extra)
    return photo


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
    deep = fmt in ("PNG", "TIFF") and _is_16bit(im, data)  # from the header: nothing decoded yet
    _check_dimensions(stored_w, stored_h, name, settings, deep=deep)
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
    elif deep:
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
    pixels.setflags(write=False)  # the photo as decoded: its reduced copies are kept (analyzer._resample)
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
