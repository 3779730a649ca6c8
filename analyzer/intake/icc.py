"""Colour management: embedded ICC profiles and HEIF ``nclx`` descriptions to sRGB.

8-bit pixels go through LittleCMS (relative colorimetric), except matrix/TRC profiles with the
sRGB tone curve (Display P3), whose conversion is a matrix in linear light and is deferred to
the measured pixels.  16-bit pixels and ``nclx`` primaries are converted by the matrix maths of
the profile, which is what relative colorimetric means for a matrix/TRC profile.  White points,
primaries, the Bradford matrix and the sRGB curve come from :mod:`analyzer.colour.spaces`.

References
----------
ICC.1:2010 (profile version 4.3.0): header, tag table, XYZType, curveType,
parametricCurveType (10.16), matrix/TRC conversion (F.3); D50 PCS illuminant (7.2.16).
ITU-T H.273: ``nclx`` colour primaries and transfer characteristics code points.
"""

from __future__ import annotations

import io
import struct
from functools import lru_cache
from typing import Callable

import numpy as np
from PIL import Image, ImageCms

from ..colour.spaces import (
    D65_XY,
    ICC_PCS_WHITE_XYZ,
    SRGB_PRIMARIES_XY,
    bradford_matrix,
    linear_to_srgb,
    rgb_to_xyz_matrix,
    srgb_to_linear,
    xy_to_xyz,
)
from ._messages import _one_line


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


@lru_cache(maxsize=1)
def _srgb_to_xyz_d50() -> np.ndarray:
    """Linear sRGB -> XYZ relative to the ICC PCS white (D50), Bradford-adapted from D65."""
    m = rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY)
    return bradford_matrix(xy_to_xyz(D65_XY), ICC_PCS_WHITE_XYZ) @ m


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
    src = bradford_matrix(xy_to_xyz(white), xy_to_xyz(D65_XY)) @ rgb_to_xyz_matrix(prim, white)
    matrix = np.linalg.inv(rgb_to_xyz_matrix(SRGB_PRIMARIES_XY, D65_XY)) @ src
    levels = 65536 if rgb.dtype == np.uint16 else 256
    lut = srgb_to_linear(np.arange(levels) / (levels - 1), dtype=np.float64)
    label = {9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}.get(primaries, f"code {primaries}")
    notes.append(f"converted from {label} primaries (HEIF nclx) to sRGB")
    return _convert_matrix(rgb, matrix, (lut, lut, lut))
