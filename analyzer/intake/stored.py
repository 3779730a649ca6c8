"""The stored copy: the measured pixels as a metadata-free sRGB JPEG.

The store keeps, per photo, a copy that can be shown and measured again without the patient's
metadata (GPS position, phone model, maker notes).  It is made from exactly the pixels that
:func:`~analyzer.intake.load_photo` gives, so what is stored is what was measured:

* the same decoders, limits and errors (:class:`~analyzer.errors.UnreadablePhoto`,
  :class:`~analyzer.errors.PhotoTooLarge`, ...), the same EXIF orientation and the same ICC or
  HEIF ``nclx`` conversion to sRGB;
* a profile conversion that :class:`~analyzer.intake.Photo` defers (``to_srgb_matrix``, Display P3
  JPEGs) is applied here in linear light, exactly as :meth:`Photo.linear` does, so the copy is
  plain sRGB;
* 16-bit pixels are rounded to 8 bits (``round(v * 255 / 65535)``);
* JPEGs decoded with DCT scaling (``Settings.decode_min_long_side``) are stored at the decoded
  size, which is the size that was measured, not at the size of the original file;
* the selfie pixel cap (``Settings.max_upload_pixels``) is checked twice: on the header before
  decoding (by :func:`~analyzer.intake.load_photo`), and on the copy itself before it is
  encoded, so no copy over the cap is made even from a :class:`Photo` loaded with other limits.

The copy is written as a baseline JPEG of quality :data:`STORED_QUALITY` with 4:4:4 chroma
(no subsampling) and carries no EXIF, XMP, ICC profile or comment: a JPEG without a profile is
sRGB by convention (IEC 61966-2-1, annex on the JFIF/Exif default colour space).

References
----------
ISO/IEC 10918-1 (ITU-T T.81): baseline JPEG; JFIF 1.02 (ECMA TR/98).
IEC 61966-2-1:1999: the sRGB transfer function used to re-encode deferred conversions.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from ..colour.spaces import linear_to_srgb8
from ..settings import DEFAULT, Settings
from .container import _too_large
from .load import Photo, load_photo

__all__ = ["STORED_QUALITY", "STORED_SUFFIX", "encode_stored_copy", "stored_copy"]

STORED_SUFFIX = ".jpg"
"""File ending of a stored copy (the store names it ``photos/<keyed name><STORED_SUFFIX>``,
:func:`analyzer.store.photos.stored_name`)."""

STORED_QUALITY = 95
"""libjpeg quality (1-100) of the stored copy; with 4:4:4 chroma the copy stays within a few
8-bit levels of the measured pixels."""


def stored_copy(
    source: str | os.PathLike | bytes,
    *,
    name: str,
    settings: Settings = DEFAULT,
) -> bytes:
    """Load a photo as :func:`~analyzer.intake.load_photo` does and encode its stored copy.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray or memoryview
        The photo file or its bytes.
    name : str
        Name used in error messages (and for the capture time, which the copy does not keep).
    settings : Settings, optional
        The limits and decoding settings; must be those of the analysis for the copy to hold
        the measured pixels (``max_upload_pixels``, ``min_image_side``, ``decode_min_long_side``).

    Returns
    -------
    bytes
        A JPEG (quality :data:`STORED_QUALITY`, 4:4:4) of the upright sRGB pixels, no metadata.

    Raises
    ------
    UnreadablePhoto, PhotoTooLarge, PhotoTooSmall, UnsupportedPhoto
        As :func:`~analyzer.intake.load_photo`, naming ``name``.

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.full((300, 400, 3), (200, 120, 90), np.uint8)).save(buf, "JPEG")
    >>> copy = stored_copy(buf.getvalue(), name="IMG_1.jpg")
    >>> with Image.open(io.BytesIO(copy)) as im:
    ...     im.size, im.mode, "exif" in im.info, "icc_profile" in im.info
    ((400, 300), 'RGB', False, False)
    """
    return encode_stored_copy(load_photo(source, settings=settings, name=name), settings=settings)


def encode_stored_copy(photo: Photo, *, settings: Settings = DEFAULT) -> bytes:
    """The stored copy of an already loaded :class:`~analyzer.intake.Photo`.

    Parameters
    ----------
    photo : Photo
        As returned by :func:`~analyzer.intake.load_photo`.
    settings : Settings, optional
        Its ``max_upload_pixels`` (the selfie pixel cap) bounds the copy's size.

    Returns
    -------
    bytes
        A JPEG (quality :data:`STORED_QUALITY`, 4:4:4, no EXIF/XMP/ICC/comments) of
        ``photo.pixels`` in sRGB, 8 bits, at the decoded size (``pixels.shape``).

    Raises
    ------
    PhotoTooLarge
        The copy would have more than ``settings.max_upload_pixels`` pixels (nothing encoded).
    """
    height, width = photo.pixels.shape[:2]
    if width * height > settings.max_upload_pixels:
        raise _too_large(photo.name, width, height, settings)
    rgb = _srgb8(photo)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=STORED_QUALITY, subsampling=0)
    return buf.getvalue()


def _srgb8(photo: Photo) -> np.ndarray:
    """``photo.pixels`` as encoded sRGB uint8 (H, W, 3), the deferred conversion applied."""
    px = photo.pixels
    if photo.to_srgb_matrix is not None:
        # The same linear sRGB that is measured (Photo.linear), clipped and re-encoded.
        return linear_to_srgb8(photo.linear())
    if px.dtype == np.uint16:
        return ((px.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return np.ascontiguousarray(px, dtype=np.uint8)
