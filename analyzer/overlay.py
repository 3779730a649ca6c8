"""Overlay images: region outlines beside a hemoglobin heat map, one PNG per photo.

The heat map uses a FIXED scale (``HEMOGLOBIN_RANGE`` around the face's own median) so that two
days' overlays of the same person are comparable by eye; the colour bar is printed on the image.

An overlay carries no file name, neither in its pixels nor in its PNG metadata (no text chunks):
a photo's name often holds a person's name, a date or a place, and an overlay is shown and
passed on without it.  Its title holds the face's numbers only.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ._files import write_atomically
from .result import PhotoMaps, PhotoResult

__all__ = ["render_overlay", "write_overlay", "REGION_COLOURS", "HEMOGLOBIN_RANGE"]

REGION_COLOURS = {
    "forehead": (80, 200, 255),
    "left_cheek": (255, 170, 60),
    "right_cheek": (255, 110, 200),
    "chin": (120, 255, 120),
    "nose": (255, 255, 120),
}
"""RGB outline colour per region."""

HEMOGLOBIN_RANGE = 0.6
"""Width of the heat map's scale in Tsumura c_h units (optical density), centred on the face
median: +/-0.3 covers the day-1 effect of micro-needling (+0.3 OD in our simulations)."""

_PANEL_HEIGHT = 720


def render_overlay(result: PhotoResult) -> np.ndarray:
    """Render the overlay of one analysed photo.

    Parameters
    ----------
    result : PhotoResult
        A result made with ``keep_maps=True``.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3), RGB
        Left: the normalised face crop with region outlines; right: hemoglobin heat map with a
        colour bar (c_h relative to the face median, optical density units).
    """
    maps = result.maps
    if maps is None:
        raise ValueError(f"{result.file}: no maps in this result; analyse with keep_maps=True")
    h, w = maps.image.shape[:2]
    f = _PANEL_HEIGHT / h
    size = (max(1, round(w * f)), _PANEL_HEIGHT)
    left = cv2.resize(maps.image, size, interpolation=cv2.INTER_AREA)
    right = cv2.resize(_heat(maps), size, interpolation=cv2.INTER_NEAREST)
    for name, poly in maps.polygons.items():
        pts = np.round(poly * f).astype(np.int32).reshape(-1, 1, 2)
        colour = REGION_COLOURS.get(name, (255, 255, 255))
        for panel in (left, right):
            cv2.polylines(panel, [pts], isClosed=True, color=colour, thickness=2, lineType=cv2.LINE_AA)
        cx, cy = pts.reshape(-1, 2).mean(axis=0).astype(int)
        _label(left, name.replace("_", " "), (int(cx) - 30, int(cy)), colour)
    bar = _colour_bar(_PANEL_HEIGHT)
    canvas = np.concatenate([left, right, bar], axis=1)
    face = result.face
    title = f"redness {_fmt(face, 'redness')}   hemoglobin {_fmt(face, 'hemoglobin')}"  # no file name
    head = np.full((36, canvas.shape[1], 3), 255, np.uint8)
    cv2.putText(head, title, (8, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([head, canvas], axis=0)


def write_overlay(result: PhotoResult, directory: str | Path) -> Path:
    """Write ``render_overlay(result)`` as ``<photo stem>.overlay.png`` in ``directory``.

    The file is named after the photo, beside the operator's own files, so the two can be
    matched; the image itself carries no file name and the PNG no metadata (no text chunks).
    Written atomically, readable by the owner only (0600): it shows a face."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{Path(result.file).stem}.overlay.png"
    ok, png = cv2.imencode(".png", render_overlay(result)[..., ::-1])
    if not ok:
        raise OSError(f"{out}: could not encode the overlay; please report it with this photo")
    try:
        write_atomically(out, png.tobytes())
    except OSError as e:
        raise OSError(
            f"{out}: could not write the overlay ({e.strerror or e}); check that the folder is writable"
        ) from e
    return out


def _heat(maps: PhotoMaps) -> np.ndarray:
    c_h = maps.hemoglobin
    skin = np.isfinite(c_h)
    grey = cv2.cvtColor(cv2.cvtColor(maps.image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out = (grey * 0.5).astype(np.uint8)
    if skin.any():
        centre = float(np.median(c_h[skin]))
        t = np.clip((c_h - centre) / HEMOGLOBIN_RANGE + 0.5, 0, 1)
        idx = np.where(skin, t * 255, 0).astype(np.uint8)
        heat = cv2.applyColorMap(idx, cv2.COLORMAP_INFERNO)[..., ::-1]
        out[skin] = heat[skin]
    return out


def _colour_bar(height: int, width: int = 90) -> np.ndarray:
    bar = np.full((height, width, 3), 255, np.uint8)
    ramp = np.linspace(255, 0, height - 40).astype(np.uint8)[:, None]
    colours = cv2.applyColorMap(np.repeat(ramp, 20, axis=1), cv2.COLORMAP_INFERNO)[..., ::-1]
    bar[20 : height - 20, 8:28] = colours
    for frac, text in (
        (0.0, f"+{HEMOGLOBIN_RANGE / 2:.2f}"),
        (0.5, "median"),
        (1.0, f"-{HEMOGLOBIN_RANGE / 2:.2f}"),
    ):
        y = int(20 + frac * (height - 41))
        cv2.putText(bar, text, (32, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    cv2.putText(bar, "Hb (OD)", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 1, cv2.LINE_AA)
    return bar


def _label(img: np.ndarray, text: str, org: tuple[int, int], colour) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def _fmt(metrics, key: str) -> str:
    v = getattr(metrics, key, None) if metrics is not None else None
    return "-" if v is None or not np.isfinite(v) else f"{v:.2f}"
