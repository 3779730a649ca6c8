"""Builders that write test photos (good and bad) into a directory.

Every builder takes an RGB uint8 array of shape (H, W, 3) (a synthetic pattern or a face photo
such as ``skimage.data.astronaut()``), writes one file and returns its :class:`~pathlib.Path`.
They are meant for the unit tests of :mod:`analyzer.intake` and for integration tests.

References
----------
ICC.1:2001-04 (profile version 2.4): header, tag table, textDescriptionType, XYZType; the
parametricCurveType of ICC.1:2010 10.16 (read by LittleCMS in version 2 profiles too).
SMPTE EG 432-1 / Apple: Display P3 = DCI-P3 primaries R (0.680, 0.320), G (0.265, 0.690),
B (0.150, 0.060), D65 white (0.3127, 0.3290), sRGB transfer curve.
Lam (1985), Bradford chromatic adaptation; ICC D50 PCS illuminant (0.9642, 1.0, 0.8249).
ISO/IEC 15948 (PNG) chunk layout and CRC-32.
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import ExifTags, Image

pillow_heif.register_heif_opener()

__all__ = [
    "P3_PRIMARIES_XY",
    "SRGB_PRIMARIES_XY",
    "D65_XY",
    "rgb_to_xyz_matrix",
    "bradford",
    "display_p3_icc",
    "make_exif",
    "colour_pattern",
    "write_jpeg",
    "write_png",
    "write_png16",
    "write_cmyk_jpeg",
    "write_rgba_png",
    "write_palette_png",
    "write_webp",
    "write_tiff",
    "write_tiff16",
    "write_heic",
    "write_bad_inputs",
]

P3_PRIMARIES_XY = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
SRGB_PRIMARIES_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
D65_XY = (0.3127, 0.3290)
D50_XYZ = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


# --------------------------------------------------------------------------------------------
# Colorimetry and ICC
# --------------------------------------------------------------------------------------------


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_matrix(primaries_xy, white_xy=D65_XY) -> np.ndarray:
    """Linear RGB -> XYZ (Y of white = 1), shape (3, 3), from chromaticities."""
    p = np.stack([_xyz(c) for c in primaries_xy], axis=1)
    return p * np.linalg.solve(p, _xyz(white_xy))


def bradford(src_white_xyz: np.ndarray, dst_white_xyz: np.ndarray) -> np.ndarray:
    """Bradford adaptation matrix (3, 3) between two whites given as XYZ."""
    ratio = (_BRADFORD @ dst_white_xyz) / (_BRADFORD @ src_white_xyz)
    return np.linalg.inv(_BRADFORD) @ np.diag(ratio) @ _BRADFORD


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_ = text.encode("ascii") + b"\0"
    # textDescriptionType: ASCII part, empty Unicode part, empty ScriptCode part (67 bytes).
    return (
        b"desc" + bytes(4) + struct.pack(">I", len(ascii_)) + ascii_
        + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67)
    )


def _srgb_para_tag() -> bytes:
    # Function type 3: Y = (aX + b)^g for X >= d, else cX (IEC 61966-2-1 constants).
    params = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in params)


def _icc_profile(description: str, primaries_xy, white_xy=D65_XY) -> bytes:
    """A version-2 RGB display profile (matrix/TRC, sRGB curve) for the given primaries."""
    colorants = bradford(_xyz(white_xy), D50_XYZ) @ rgb_to_xyz_matrix(primaries_xy, white_xy)
    trc = _srgb_para_tag()
    tags = [
        (b"desc", _desc_tag(description)),
        (b"cprt", b"text" + bytes(4) + b"No copyright, test profile\0"),
        (b"wtpt", _xyz_tag(D50_XYZ)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", trc),
        (b"gTRC", trc),  # same data as rTRC: tags may share one element
        (b"bTRC", trc),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, blobs, placed = [], [], {}
    for sig, blob in tags:
        if blob not in placed:
            offset += (-offset) % 4
            placed[blob] = offset
            blobs.append((offset, blob))
            offset += len(blob)
        entries.append(struct.pack(">4sII", sig, placed[blob], len(blob)))
    size = offset + (-offset) % 4
    header = (
        struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000)
        + b"mntr" + b"RGB " + b"XYZ " + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp" + bytes(4) + struct.pack(">I", 0) + bytes(8) + bytes(8)
        + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50_XYZ) + bytes(4)
        + bytes(16) + bytes(28)
    )
    assert len(header) == 128
    body = bytearray(header + struct.pack(">I", len(tags)) + b"".join(entries))
    for off, blob in blobs:
        body.extend(bytes(off - len(body)))
        body.extend(blob)
    body.extend(bytes(size - len(body)))
    return bytes(body)


def display_p3_icc() -> bytes:
    """A valid Display P3 ICC profile (v2, matrix/TRC), built from the published primaries."""
    return _icc_profile("Display P3", P3_PRIMARIES_XY)


# --------------------------------------------------------------------------------------------
# Pixels and metadata
# --------------------------------------------------------------------------------------------


def colour_pattern(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """A colourful, asymmetric RGB uint8 test picture (H, W, 3): gradients, skin-like patch and a
    red marker in the top-left corner (rows and columns 0 .. min(H, W)//8)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rgb = np.stack(
        [60 + 150 * x / max(width - 1, 1), 60 + 150 * y / max(height - 1, 1),
         200 - 120 * (x + y) / max(width + height - 2, 1)],
        axis=-1,
    )
    rgb[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = (205, 150, 125)
    rgb += np.random.default_rng(seed).normal(0, 2, rgb.shape)
    m = max(1, min(height, width) // 8)
    rgb[:m, :m] = (230, 20, 20)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def make_exif(
    orientation: int | None = None,
    exif_datetime: datetime | str | None = None,
    offset: str | None = None,
) -> Image.Exif:
    """An Exif block with Orientation (0x0112), DateTimeOriginal (0x9003) and
    OffsetTimeOriginal (0x9011) as given."""
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if exif_datetime is not None or offset is not None:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        if exif_datetime is not None:
            if isinstance(exif_datetime, datetime):
                exif_datetime = exif_datetime.strftime("%Y:%m:%d %H:%M:%S")
            ifd[ExifTags.Base.DateTimeOriginal] = exif_datetime
        if offset is not None:
            ifd[ExifTags.Base.OffsetTimeOriginal] = offset
    return exif


def _rgb_u8(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 array (H, W, 3), got {rgb.dtype} {rgb.shape}")
    return rgb


def _save_kwargs(orientation, exif_datetime, offset, icc) -> dict:
    kwargs = {}
    if orientation is not None or exif_datetime is not None or offset is not None:
        kwargs["exif"] = make_exif(orientation, exif_datetime, offset)
    if icc is not None:
        kwargs["icc_profile"] = icc
    return kwargs


# --------------------------------------------------------------------------------------------
# Good files
# --------------------------------------------------------------------------------------------


def write_jpeg(path, rgb, *, quality=92, orientation=None, exif_datetime=None, offset=None, icc=None,
               subsampling=None) -> Path:
    """Write an RGB (YCbCr) JPEG, optionally with EXIF orientation, DateTimeOriginal, its offset
    (e.g. ``"+02:00"``) and an embedded ICC profile (bytes)."""
    path = Path(path)
    kwargs = _save_kwargs(orientation, exif_datetime, offset, icc)
    if subsampling is not None:
        kwargs["subsampling"] = subsampling
    Image.fromarray(_rgb_u8(rgb)).save(path, "JPEG", quality=quality, **kwargs)
    return path


def _png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def _png_bytes(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes,
               extra: tuple[tuple[bytes, bytes], ...] = ()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", ihdr)]
    chunks += [_png_chunk(t, p) for t, p in extra]
    chunks.append(_png_chunk(b"IDAT", zlib.compress(raw, 6)))
    chunks.append(_png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def write_png16(path, rgb, *, icc=None, orientation=None) -> Path:
    """Write a 16-bit RGB PNG.  ``rgb`` is uint8 (scaled by 257) or uint16 (kept as is).
    Written by hand (IHDR, iCCP, eXIf, IDAT, IEND) so that an ICC profile can be embedded."""
    path = Path(path)
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.uint16) * 257
    if rgb.dtype != np.uint16 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError("expected (H, W, 3) uint8 or uint16")
    h, w = rgb.shape[:2]
    rows = rgb.astype(">u2").reshape(h, w * 6 // 2).view(np.uint8).reshape(h, w * 6)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0
    extra = []
    if icc is not None:
        extra.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(icc)))
    if orientation is not None:
        extra.append((b"eXIf", make_exif(orientation).tobytes()))
    path.write_bytes(_png_bytes(w, h, 16, 2, raw, tuple(extra)))
    return path


def write_png(path, rgb, *, orientation=None, icc=None) -> Path:
    """Write an 8-bit RGB PNG (Pillow)."""
    path = Path(path)
    Image.fromarray(_rgb_u8(rgb)).save(path, "PNG", **_save_kwargs(orientation, None, None, icc))
    return path


def _rgb_to_cmyk(rgb: np.ndarray) -> np.ndarray:
    """Naive full-black-generation CMYK: K = 1 - max(R, G, B), C = (1 - R - K) / (1 - K), ..."""
    f = rgb.astype(np.float64) / 255
    k = 1 - f.max(axis=2, keepdims=True)
    cmy = np.where(k < 1, (1 - f - k) / np.maximum(1 - k, 1e-9), 0)
    return np.clip(np.rint(np.concatenate([cmy, k], axis=2) * 255), 0, 255).astype(np.uint8)


def _strip_jpeg_segment(data: bytes, marker: int) -> bytes:
    """Remove all marker segments of one type (e.g. 0xEE = Adobe APP14) before the first SOS."""
    out, pos = bytearray(data[:2]), 2
    while pos < len(data):
        m = data[pos + 1]
        if m == 0xDA:
            out += data[pos:]
            break
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if m != marker:
            out += data[pos : pos + 2 + length]
        pos += 2 + length
    return bytes(out)


def write_cmyk_jpeg(path, rgb, *, quality=95, adobe=True) -> Path:
    """Write a CMYK JPEG of ``rgb`` (naive ink conversion, no profile).

    ``adobe=True``: as Photoshop does, with an Adobe APP14 segment and inverted samples (Pillow
    and libjpeg write exactly that).  ``adobe=False``: plain (non-inverted) CMYK samples and no
    APP14 segment.
    """
    path = Path(path)
    cmyk = _rgb_to_cmyk(_rgb_u8(rgb))
    if not adobe:
        cmyk = 255 - cmyk  # Pillow inverts on writing; pre-invert so the file holds plain CMYK
    buf = io.BytesIO()
    Image.fromarray(cmyk, "CMYK").save(buf, "JPEG", quality=quality)
    data = buf.getvalue()
    if not adobe:
        data = _strip_jpeg_segment(data, 0xEE)
    path.write_bytes(data)
    return path


def write_rgba_png(path, rgb, *, alpha=None) -> Path:
    """Write an RGBA PNG; alpha defaults to a left-to-right ramp from 255 to 0."""
    path = Path(path)
    rgb = _rgb_u8(rgb)
    h, w = rgb.shape[:2]
    if alpha is None:
        alpha = np.broadcast_to(np.linspace(255, 0, w).astype(np.uint8), (h, w))
    rgba = np.dstack([rgb, alpha])
    Image.fromarray(rgba, "RGBA").save(path, "PNG")
    return path


def write_palette_png(path, rgb) -> Path:
    """Write a palette (P) PNG.  Exact when ``rgb`` has at most 256 colours, else quantised."""
    path = Path(path)
    rgb = _rgb_u8(rgb)
    colours, index = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
    if len(colours) <= 256:
        im = Image.fromarray(index.reshape(rgb.shape[:2]).astype(np.uint8), "P")
        im.putpalette(colours.astype(np.uint8).tobytes())
    else:
        im = Image.fromarray(rgb).quantize(256)
    im.save(path, "PNG")
    return path


def write_webp(path, rgb, *, lossless=True, quality=90, orientation=None) -> Path:
    path = Path(path)
    Image.fromarray(_rgb_u8(rgb)).save(
        path, "WEBP", lossless=lossless, quality=quality, **_save_kwargs(orientation, None, None, None)
    )
    return path


def write_tiff(path, rgb, *, compression="tiff_lzw", orientation=None) -> Path:
    """Write an 8-bit RGB TIFF (orientation goes into the TIFF's own tag 0x0112)."""
    path = Path(path)
    Image.fromarray(_rgb_u8(rgb)).save(
        path, "TIFF", compression=compression, **_save_kwargs(orientation, None, None, None)
    )
    return path


def write_tiff16(path, rgb16) -> Path:
    """Write a 16-bit RGB TIFF (OpenCV; Pillow cannot hold 16-bit RGB)."""
    import cv2

    path = Path(path)
    rgb16 = np.asarray(rgb16)
    if rgb16.dtype != np.uint16:
        raise ValueError("expected uint16")
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb16[..., ::-1])):
        raise OSError(f"could not write {path}")
    return path


def write_heic(path, rgb, orientation=None, *, quality=95) -> Path:
    """Write a HEIC (pillow-heif, x265).  pillow-heif turns an EXIF orientation into the HEIF
    ``irot``/``imir`` transformations, as phones do."""
    path = Path(path)
    kwargs = {}
    if orientation is not None:
        # As bytes: pillow-heif 1.8 turns the orientation of EXIF *bytes* into irot/imir, but
        # keeps an Image.Exif object's orientation as an EXIF tag only.
        kwargs["exif"] = make_exif(orientation).tobytes()
    Image.fromarray(_rgb_u8(rgb)).save(path, "HEIF", quality=quality, **kwargs)
    return path


# --------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------


def write_bad_inputs(dirpath) -> dict[str, Path]:
    """Write the whole set of bad inputs into ``dirpath``; returns {kind: path}.

    Kinds: ``empty`` (0-byte .jpg), ``text`` (text named .jpg), ``truncated`` (a JPEG cut at
    60 %), ``broken_png`` (one byte of the IDAT data changed: CRC mismatch), ``broken_png_header``
    (IHDR CRC wrong), ``huge_png`` (IHDR claims 50000x50000, valid CRCs, < 1 kB), ``grayscale``
    (mode L JPEG), ``grey_rgb`` (RGB JPEG with equal channels), ``tiny`` (1x1 PNG), ``small``
    (200x50 PNG), ``folder`` (a directory named like a photo), ``missing`` (a path that does not
    exist).
    """
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    rgb = colour_pattern(160, 200)
    out: dict[str, Path] = {}

    out["empty"] = d / "empty.jpg"
    out["empty"].write_bytes(b"")

    out["text"] = d / "notes.jpg"
    out["text"].write_text("These are my notes, not a photo.\n")

    full = write_jpeg(d / "_full.jpg", rgb)
    data = full.read_bytes()
    full.unlink()
    out["truncated"] = d / "truncated.jpg"
    out["truncated"].write_bytes(data[: int(len(data) * 0.6)])

    raw = np.concatenate([np.zeros((160, 1), np.uint8), rgb.reshape(160, -1)], axis=1).tobytes()
    png = bytearray(_png_bytes(200, 160, 8, 2, raw))
    idat = png.index(b"IDAT")
    png[idat + 4 + 40] ^= 0x5A  # a data byte, so the chunk's CRC no longer matches
    out["broken_png"] = d / "broken_chunk.png"
    out["broken_png"].write_bytes(bytes(png))

    png = bytearray(_png_bytes(200, 160, 8, 2, raw))
    png[8 + 8 + 13] ^= 0xFF  # first byte of IHDR's CRC
    out["broken_png_header"] = d / "broken_header.png"
    out["broken_png_header"].write_bytes(bytes(png))

    row = b"\x00" + bytes(50000 * 3)
    out["huge_png"] = d / "huge.png"
    out["huge_png"].write_bytes(_png_bytes(50000, 50000, 8, 2, row * 2))

    grey = (rgb.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    out["grayscale"] = d / "grayscale.jpg"
    Image.fromarray(grey, "L").save(out["grayscale"], "JPEG", quality=92)
    out["grey_rgb"] = write_jpeg(d / "grey_rgb.jpg", np.dstack([grey] * 3))

    out["tiny"] = write_png(d / "tiny.png", rgb[:1, :1])
    out["small"] = write_png(d / "small.png", rgb[:50, :200])

    out["folder"] = d / "folder.jpg"
    out["folder"].mkdir(exist_ok=True)
    out["missing"] = d / "missing.jpg"
    return out
