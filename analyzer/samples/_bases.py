"""The base faces the generator can paint on, one record per face: :data:`BASES`.

Everything that was tuned to one portrait lives in its record: where the photo comes from and
its checksum, the window the phone frame shows, the template resolution, the level the scene is
scaled to, the luminance cut for hair and shadow, and the geometric seed of the person (head,
neck, torso) that GrabCut refines into the wall and clothes masks.  None of it reaches the
measurement: the analyzer never reads these records.

==========  ===================================================================================
face        source
==========  ===================================================================================
astronaut   NASA's portrait of astronaut Eileen Collins, ``skimage.data.astronaut()``, 512 x 512
            (public domain, work of the U.S. government).  The face the generator, the card-free
            correction and the validation were developed on: **tuned on**.
hopper      The official U.S. Navy portrait of Rear Admiral Grace Hopper, shipped with
            matplotlib as ``mpl-data/sample_data/grace_hopper.jpg``, 512 x 600 (public domain,
            work of the U.S. government).  Another person, older skin, glasses, a flag and a blue
            backdrop: **held out**; only the masks were set up for it, by eye, never the
            measurement.
luispedro   Luis Pedro Coelho's portrait of himself, shipped in the PyPI package mahotas 1.4.19
            as ``mahotas/demos/data/luispedro.jpg``, 300 x 377 (MIT-licensed package; the
            author's own photo).  A third person, a man with olive skin and stubble, in warm
            outdoor light (low sun from the image right, the other side of the face in shade)
            with a glass facade behind him: **held out**; only the masks and the field of view
            were set up for it, by eye, never the measurement.
==========  ===================================================================================

Person shapes are in units of the face width ``w`` (landmarks 234-454, x from the middle of that
line) and the face height ``h`` (landmarks 10-152; head from landmark 10, neck and torso from
the chin, landmark 152), as :mod:`analyzer.samples._face` reads them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..errors import UnreadablePhoto

__all__ = [
    "BASES",
    "DEFAULT_BASE",
    "HOPPER_SHA256",
    "LUISPEDRO_SHA256",
    "BaseSource",
    "base_source",
    "hopper_path",
    "luispedro_path",
]

DEFAULT_BASE = "astronaut"
"""The base face used when none is named (every figure before issue 11 item 9 is on it)."""

HOPPER_SHA256 = "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"
"""SHA-256 of matplotlib's ``grace_hopper.jpg`` (512 x 600), computed once from matplotlib 3.x."""

LUISPEDRO_SHA256 = "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1"
"""SHA-256 of mahotas 1.4.19's ``demos/data/luispedro.jpg`` (300 x 377)."""


@dataclass(frozen=True)
class BaseSource:
    """One base face: provenance and every generator setting tuned to that portrait.

    Attributes
    ----------
    name : str
    provenance : Mapping[str, object]
        Recorded as ``base_photo`` in every ground-truth file (source, subject, author,
        licence, original size, resampling).
    field_of_view : (float, float, float, float)
        (x0, y0, width, height), source pixels: the 3:4 window the phone frame shows.
    template_scale : float
        Template pixels per source pixel (masks and pigment fields are built at about
        0.7 mm per template pixel on every face).
    scene_gain : float
        Factor on the photo's linear light before the light is applied: low enough that no
        skin pixel clips under the warmest light of the courses (red gain 1.94).
    dark_fraction : float
        Skin-mask cut: linear luminance below this fraction of the skin median is hair or deep
        shadow.
    head_centre_h : float
        Head ellipse centre, face heights below landmark 10.
    head_semi_axes : (float, float)
        (w, h).
    neck_centre_h : float
        Neck ellipse centre, face heights below the chin.
    neck_semi_axes : (float, float)
        (w, h).
    torso : tuple of (float, float)
        Torso polygon, (x in w from the face centre, y in h below the chin).
    tuned_on : bool
        True when the analyzer was developed on this face (its figures are not a held-out test).
    load : callable () -> ndarray of uint8 (H, W, 3)
        The encoded sRGB photo.
    """

    name: str
    provenance: Mapping[str, object]
    field_of_view: tuple[float, float, float, float]
    template_scale: float
    scene_gain: float
    dark_fraction: float
    head_centre_h: float
    head_semi_axes: tuple[float, float]
    neck_centre_h: float
    neck_semi_axes: tuple[float, float]
    torso: tuple[tuple[float, float], ...]
    tuned_on: bool
    load: Callable[[], np.ndarray]


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def hopper_path() -> Path:
    """Where matplotlib keeps ``grace_hopper.jpg`` (the file is not checked here)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _checked_photo(path: Path, expected_sha256: str, what: str, fix: str) -> np.ndarray:
    """The photo at ``path`` as uint8 sRGB (H, W, 3), after checking its SHA-256.

    Raises
    ------
    analyzer.errors.UnreadablePhoto
        The file is missing or its SHA-256 differs from ``expected_sha256``.
    """
    from PIL import Image

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadablePhoto(str(path), f"the {what} base photo cannot be read ({exc})", fix) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected_sha256:
        raise UnreadablePhoto(
            str(path),
            f"SHA-256 is {digest}, expected {expected_sha256}: not the known {what} portrait",
            fix,
        )
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _hopper() -> np.ndarray:
    """Grace Hopper's portrait, checked against :data:`HOPPER_SHA256` (UnreadablePhoto if not)."""
    fix = "reinstall matplotlib (pip install --force-reinstall matplotlib), or use the astronaut face"
    return _checked_photo(hopper_path(), HOPPER_SHA256, "Grace Hopper", fix)


def luispedro_path() -> Path:
    """Where mahotas keeps ``demos/data/luispedro.jpg`` (the file is not checked here).

    Raises
    ------
    analyzer.errors.UnreadablePhoto
        mahotas is not installed.
    """
    from importlib import resources

    try:
        return Path(str(resources.files("mahotas") / "demos" / "data" / "luispedro.jpg"))
    except ModuleNotFoundError:
        raise UnreadablePhoto(
            "mahotas/demos/data/luispedro.jpg",
            "the Luis Pedro Coelho base photo ships with mahotas, which is not installed",
            _LUISPEDRO_FIX,
        ) from None


_LUISPEDRO_FIX = "install it with pip install mahotas==1.4.19 (requirements.txt), or use the astronaut face"


def _luispedro() -> np.ndarray:
    """Luis Pedro Coelho's portrait, checked against :data:`LUISPEDRO_SHA256` (UnreadablePhoto if
    not)."""
    return _checked_photo(luispedro_path(), LUISPEDRO_SHA256, "Luis Pedro Coelho", _LUISPEDRO_FIX)


_ASTRONAUT_TORSO = (
    (0.75, -0.3), (0.95, 0.0), (0.95, 0.45), (1.45, 0.7), (1.6, 1.2), (1.6, 4.0),
    (-1.6, 4.0), (-1.6, 1.0), (-1.45, 0.5), (-1.2, 0.1), (-0.75, -0.3),
)  # fmt: skip
"""Helmet ring and suit of the astronaut (asymmetric: the ring reaches further out on the image
left)."""

_HOPPER_TORSO = (
    (0.5, -0.1), (0.75, 0.05), (1.2, 0.25), (1.45, 0.45), (1.6, 1.5),
    (-1.6, 1.5), (-1.45, 0.45), (-1.15, 0.25), (-0.7, 0.05), (-0.5, -0.1),
)  # fmt: skip
"""Hopper's uniform: narrow at the collar, the full frame width from 0.45 h below the chin."""

_LUISPEDRO_TORSO = (
    (-0.35, 0.0), (0.15, -0.05), (0.6, -0.1), (1.0, -0.1), (1.6, 0.05), (1.6, 0.6),
    (-1.6, 0.6), (-1.6, 0.05), (-0.9, 0.0),
)  # fmt: skip
"""Luis Pedro's shirt: the collar under the chin (the face is turned to the image left, so the
chin sits 0.2 w left of the face centre) and both shoulders in the frame's bottom corners."""

_RESAMPLING = "Lanczos-4 (OpenCV INTER_LANCZOS4) in linear light, pose included"

BASES: Mapping[str, BaseSource] = MappingProxyType(
    {
        "astronaut": BaseSource(
            name="astronaut",
            provenance=MappingProxyType(
                {
                    "source": "skimage.data.astronaut()",
                    "subject": "Eileen Collins, NASA astronaut (official NASA portrait)",
                    "author": "NASA",
                    "licence": "public domain (work of the U.S. federal government; NASA imagery is not "
                    "copyrighted); shipped with scikit-image",
                    "original_size_px": (512, 512),
                    "resampling": _RESAMPLING,
                }
            ),
            # Face centre at x 226, about 40 % down the frame; hair, helmet ring and suit below.
            field_of_view=(106.0, 4.0, 240.0, 320.0),
            template_scale=2.0,
            # Her face skin reaches linear R = 0.96 (median 0.69); x 0.5 x 1.94 does not clip.
            scene_gain=0.5,
            dark_fraction=0.4,  # 0.6 cut the shaded side of this face
            head_centre_h=0.25,  # a head-and-hair ellipse reaching 0.57 h above landmark 10
            head_semi_axes=(0.9, 0.82),
            neck_centre_h=0.05,
            neck_semi_axes=(0.42, 0.3),
            torso=_ASTRONAUT_TORSO,
            tuned_on=True,
            load=_astronaut,
        ),
        "hopper": BaseSource(
            name="hopper",
            provenance=MappingProxyType(
                {
                    "source": "matplotlib mpl-data/sample_data/grace_hopper.jpg",
                    "sha256": HOPPER_SHA256,
                    "subject": "Rear Admiral Grace M. Hopper (official U.S. Navy portrait)",
                    "author": "U.S. Navy",
                    "licence": "public domain (work of the U.S. federal government); shipped with matplotlib",
                    "original_size_px": (512, 600),
                    "resampling": _RESAMPLING,
                }
            ),
            # Face about 180 px wide (1.38 px/mm by the iris): x 3.2 gives 4.4 px/mm at 1440 px,
            # as the astronaut.  Face centre at x 265, about 39 % down the frame.
            field_of_view=(40.0, 0.0, 450.0, 600.0),
            template_scale=1.0,
            # Her skin: linear R median 0.72, and 6 % of it already at 1.0 in the original JPEG
            # (clipped highlights, kept as they are); x 0.5 x 1.94 stays below 1.
            scene_gain=0.5,
            dark_fraction=0.4,
            head_centre_h=0.3,  # the cap reaches 0.54 h above landmark 10
            head_semi_axes=(0.7, 0.85),
            neck_centre_h=0.15,  # the white collar
            neck_semi_axes=(0.35, 0.3),
            torso=_HOPPER_TORSO,
            tuned_on=False,
            load=_hopper,
        ),
        "luispedro": BaseSource(
            name="luispedro",
            provenance=MappingProxyType(
                {
                    "source": "mahotas 1.4.19 (PyPI) demos/data/luispedro.jpg",
                    "sha256": LUISPEDRO_SHA256,
                    "subject": "Luis Pedro Coelho, the author of mahotas (his own portrait)",
                    "author": "Luis Pedro Coelho",
                    "licence": "MIT (the mahotas package, which ships the photo as demo data)",
                    "original_size_px": (300, 377),
                    "original_light": "warm low outdoor sun from the image right, the other side of "
                    "the face in shade; a glass facade behind him",
                    "resampling": _RESAMPLING,
                }
            ),
            # The face fills the photo: 1.36 px/mm by the iris, so the widest 3:4 window gives
            # x 5.1 and 6.9 px/mm at 1440 px (a close selfie).  Face centre at x 122, y 216.
            field_of_view=(9.0, 0.0, 282.0, 376.0),
            template_scale=1.0,  # 0.74 mm per template pixel
            # His skin: linear R median 0.73, 15 % of the face oval already at 1.0 in the
            # original JPEG (the sunlit cheek, kept as it is); x 0.5 x 1.94 stays below 1.
            scene_gain=0.5,
            dark_fraction=0.4,
            head_centre_h=0.3,  # the hair reaches 0.35 h above landmark 10
            head_semi_axes=(0.85, 0.68),
            neck_centre_h=0.15,
            neck_semi_axes=(0.45, 0.3),
            torso=_LUISPEDRO_TORSO,
            tuned_on=False,
            load=_luispedro,
        ),
    }
)
"""The base faces by name (read-only)."""


def base_source(name: str) -> BaseSource:
    """The record of base face ``name``.

    Raises
    ------
    ValueError
        Unknown face.
    """
    try:
        return BASES[name]
    except KeyError:
        raise ValueError(f"unknown base face {name!r}; choose one of {', '.join(BASES)}") from None
