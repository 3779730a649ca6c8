"""EXIF orientation: reading the EXIF of an opened image and turning pixels upright.

References
----------
JEITA CP-3451C (Exif 2.32): Orientation (0x0112).
ISO/IEC 23008-12 (HEIF): ``irot``/``imir`` transformations (applied by libheif, see
:func:`analyzer.intake.load_photo`).
"""

from __future__ import annotations

import struct

import cv2
import numpy as np
from PIL import Image

from ._messages import _one_line

_TAG_ORIENTATION = 0x0112

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
