"""Photo intake: from a file path or bytes to an upright sRGB pixel array plus metadata.

One call, :func:`load_photo`, turns what a patient sends (a phone JPEG or HEIC, sometimes a PNG,
WebP or TIFF) into a :class:`Photo`: encoded sRGB pixels in RGB order, upright as a viewer shows
them, with the capture time and plain notes on every conversion made.  Anything that cannot be
measured raises one of the exceptions of :mod:`analyzer.errors`, whose one-line message names the
file, the cause and the fix.

How a file is read
------------------
1. The bytes are read once.  Pillow opens them lazily: only the header (size, mode, EXIF, ICC
   profile) is parsed, so the selfie pixel cap (``Settings.max_upload_pixels``, half of it for
   16-bit PNG and TIFF) and the minimum size are checked before any pixel is decoded.  Only the
   plugins of the accepted formats (JPEG, PNG, WebP, HEIF, TIFF) may parse the bytes; any other
   image format is refused by name without being parsed.
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
5. Capture time: EXIF DateTimeOriginal with its sub-seconds and UTC offset, else the date and
   time that phone and messenger file names carry.

:func:`stored_copy` (and :func:`encode_stored_copy` for a loaded :class:`Photo`) encodes the
metadata-free JPEG the store keeps, from exactly the pixels that are measured.

Modules
-------
=====================  =========================================================================
:mod:`.container`      reading the source, sniffing the format, PNG/JPEG integrity, size limits
:mod:`.decode`         the decoders (cv2 DCT-scaled JPEG, 16-bit, Pillow), grey/CMYK/alpha
:mod:`.icc`            ICC profiles (LittleCMS, matrix/TRC, deferred P3 matrix), HEIF ``nclx``
:mod:`.orientation`    EXIF orientation
:mod:`.capture_time`   EXIF date/time/offset and file-name dates
:mod:`.load`           :func:`load_photo` running the steps, and :class:`Photo`
:mod:`.stored`         the stored copy
=====================  =========================================================================

References
----------
JEITA CP-3451C (Exif 2.32): Orientation (0x0112), DateTimeOriginal (0x9003), OffsetTimeOriginal
(0x9011), SubSecTimeOriginal (0x9291), Exif IFD pointer (0x8769).
ISO/IEC 10918-1 (ITU-T T.81): JPEG markers SOI, SOS, EOI, RSTn and byte stuffing (B.1.1).
ISO/IEC 15948 (PNG): chunk layout and CRC-32.
ICC.1:2010 (profile version 4.3.0): header, tag table, XYZType, curveType,
parametricCurveType; D50 PCS illuminant (0.9642, 1.0, 0.8249).
ISO/IEC 23008-12 (HEIF): ``irot``/``imir`` transformations; ITU-T H.273: ``nclx`` code points.
IEC 61966-2-1:1999: sRGB primaries, D65 white and transfer function (from
:mod:`analyzer.colour.spaces`, with the Bradford matrix of Lam 1985).
"""

from __future__ import annotations

from .capture_time import capture_time_from_filename, read_capture_time
from .load import Photo, load_photo
from .stored import STORED_QUALITY, STORED_SUFFIX, encode_stored_copy, stored_copy

__all__ = [
    "Photo",
    "load_photo",
    "capture_time_from_filename",
    "read_capture_time",
    "stored_copy",
    "encode_stored_copy",
    "STORED_SUFFIX",
    "STORED_QUALITY",
]
