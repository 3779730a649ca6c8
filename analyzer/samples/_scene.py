"""Rooms: the walls and clothes around the face, repainted so whole-image white balance is fooled.

A repaint replaces the chromaticity of the wall (everything but the person) and of the clothes
(helmet ring and suit) and keeps each pixel's luminance, so shading, folds and texture stay:

.. math:: \\mathrm{rgb}' = (1 - w)\\,\\mathrm{rgb} + w\\,Y(\\mathrm{rgb})\\,\\frac{c}{Y(c)}

with ``c`` the paint colour (linear sRGB), ``Y`` the luminance (BT.709's printed weights,
:data:`analyzer.colour.spaces.BT709_LUMINANCE_WEIGHTS`) and ``w`` the soft mask (``wall`` or
``clothes`` of :mod:`analyzer.samples._face`, both exactly 0 on the face skin).  Colours are
everyday paints and fabrics chosen by us, given as 8-bit sRGB.

==================  ==========================  ==========================  ======================
scene               wall                        clothes                     what it does to
                                                                            grey world
==================  ==========================  ==========================  ======================
bathroom            original (grey-pink)        original (orange suit)      the reference
bedroom_blue        pale blue (150, 175, 210)   navy (45, 60, 110)          pulls the estimate blue
kitchen_yellow      warm yellow (230, 205, 125) brick red (160, 55, 45)     pulls it yellow-red
office_green        sage green (160, 185, 150)  mid grey (120, 120, 120)    pulls it green
==================  ==========================  ==========================  ======================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ..colour.spaces import BT709_LUMINANCE_WEIGHTS, encoded_to_linear

__all__ = ["SCENES", "Scene", "repaint"]


@dataclass(frozen=True)
class Scene:
    """A room: paint colours of the wall and the clothes (8-bit sRGB), None = keep the original.

    Attributes
    ----------
    name : str
    wall_srgb, clothes_srgb : tuple of 3 int in 0-255, or None
    description : str
    """

    name: str
    wall_srgb: tuple[int, int, int] | None
    clothes_srgb: tuple[int, int, int] | None
    description: str


SCENES: Mapping[str, Scene] = MappingProxyType(
    {
        s.name: s
        for s in (
            Scene("bathroom", None, None, "the original portrait: grey-pink backdrop, orange suit"),
            Scene("bedroom_blue", (150, 175, 210), (45, 60, 110), "pale blue wall, navy top"),
            Scene("kitchen_yellow", (230, 205, 125), (160, 55, 45), "warm yellow wall, brick-red top"),
            Scene("office_green", (160, 185, 150), (120, 120, 120), "sage green wall, grey top"),
        )
    }
)
"""The rooms by name (read-only); ``bathroom`` is the unchanged base photo."""


def _chroma(srgb: tuple[int, int, int]) -> np.ndarray:
    """Linear colour of an 8-bit sRGB paint scaled to luminance 1: float32 (3,)."""
    lin = encoded_to_linear(np.asarray(srgb, np.uint8))
    return (lin / float(lin @ BT709_LUMINANCE_WEIGHTS)).astype(np.float32)


def _recolour(linear: np.ndarray, weight: np.ndarray, srgb: tuple[int, int, int] | None) -> np.ndarray:
    """Blend towards the paint's chromaticity at each pixel's own luminance (see the module)."""
    if srgb is None:
        return linear
    painted = (linear @ BT709_LUMINANCE_WEIGHTS)[..., None] * _chroma(srgb)
    w = weight[..., None]
    return linear * (1.0 - w) + painted * w


def repaint(linear: np.ndarray, scene: str, wall: np.ndarray, clothes: np.ndarray) -> np.ndarray:
    """Repaint the wall and clothes of a photo for ``scene``.

    Parameters
    ----------
    linear : ndarray of float32, shape (h, w, 3)
        Linear sRGB (not clipped).
    scene : str
        A key of :data:`SCENES`.
    wall, clothes : ndarray of float32, shape (h, w), values in [0, 1]
        Soft masks in the same frame; pixels where both are 0 are returned unchanged (bit for
        bit).

    Returns
    -------
    ndarray of float32, shape (h, w, 3)

    Raises
    ------
    ValueError
        Unknown scene.

    Examples
    --------
    >>> rgb = np.full((1, 2, 3), 0.5, np.float32)
    >>> out = repaint(rgb, "bedroom_blue", np.array([[1.0, 0.0]], np.float32), np.zeros((1, 2), np.float32))
    >>> bool(out[0, 0, 2] > out[0, 0, 0]), out[0, 1].tolist()
    (True, [0.5, 0.5, 0.5])
    """
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; choose one of {', '.join(SCENES)}")
    s = SCENES[scene]
    out = _recolour(linear, wall, s.wall_srgb)
    out = _recolour(out, clothes, s.clothes_srgb)
    keep = (wall <= 0.0) & (clothes <= 0.0)
    return np.where(keep[..., None], linear, out).astype(np.float32)
