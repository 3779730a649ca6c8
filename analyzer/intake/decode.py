"""Decoding pixels: the cheapest decoder that is exact for the file, to RGB in channel order.

* JPEG with three components: ``cv2.imdecode`` with DCT scaling (``IMREAD_REDUCED_COLOR_k``).
* 16-bit PNG and TIFF: ``cv2.imdecode(..., IMREAD_UNCHANGED)``, which keeps 16 bits.
* Everything else: Pillow with strict loading; CMYK becomes RGB, alpha and palettes are dropped.

Black-and-white photos are refused here, by mode before decoding and by pixels after.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from ..errors import UnreadablePhoto, UnsupportedPhoto
from ._messages import _FIX_RECOPY, _one_line
from .icc import _convert_with_icc

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
    k: (flag & ~cv2.IMREAD_COLOR_BGR) | cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    for k, flag in {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }.items()
}
"""``cv2.imdecode`` flags by DCT factor: colour at 1/k size, in RGB order straight from libjpeg
(the same pixels as decoding BGR and swapping the channels, without the 0.4 ms swap on a 12 MP
photo), EXIF orientation left to :mod:`analyzer.intake.orientation`."""


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
    sample = np.ascontiguousarray(rgb[::step, ::step])
    r, g, b = sample[..., 0], sample[..., 1], sample[..., 2]
    # in the pixels' own type (max >= min, so no wrap-around): 0.4 ms where a reduction over the
    # channel axis of an int32 copy took 3 ms on 12 MP
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    threshold = _GREY_SPREAD_8BIT * (257 if rgb.dtype == np.uint16 else 1)
    return float(np.mean(spread > threshold)) < _GREY_MAX_COLOURED_FRACTION


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
    with _DecodeErrors(name, "JPEG"):
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), _DCT_FLAGS[k])
    expected = (-(-height // k), -(-width // k), 3)
    if rgb is None or rgb.shape != expected:
        raise UnreadablePhoto(name, "the JPEG data are damaged (the decoder failed)", _FIX_RECOPY)
    return rgb


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
