"""One synthetic selfie: the base face, the day's skin, the room, the light, the camera.

Steps of :func:`render_photo` (all in linear sRGB, float32, until the last):

1. **Frame and pose.**  The base face (``day.face``, the astronaut by default) is resampled
   into the 3:4 frame (Lanczos-4, linear light)
   through one affine that includes the photo's pose: shift +/-2 % of the frame, zoom +/-3 %,
   roll +/-2 degrees about the face centre (uniform; drawn from ``rng``).  Then x
   :data:`SCENE_GAIN`.
2. **Skin.**  Inside the feathered skin mask: haemoglobin ``d_hemoglobin x pattern`` and melanin
   ``d_melanin x pattern`` (optical density, Beer-Lambert, via
   :func:`analyzer.measure.chromophores.add_chromophores`); fine roughness; flakes.
3. **Room.**  Wall and clothes repainted for ``day.scene`` (face skin untouched).
4. **Chart** (optional).  A ColorChecker 24 (:func:`analyzer.colour.datasets.render_chart`), a
   quarter of the frame width, in the bottom-right corner, at :data:`CHART_GAIN`.
5. **Light.**  The whole frame times the light's gains (residual cast x exposure).  With
   ``day.metered_luminance`` set, the exposure is the phone's face metering instead: the frame
   is scaled so that the face skin's mean linear luminance reaches that target
   (:func:`metered_exposure`); darker skin gets a brighter exposure and the background may clip.
6. **Sensor.**  Signal-dependent Gaussian noise, variance ``a x + b`` (the Poisson-Gaussian model
   of Foi et al. 2008, a = 6e-5, b = 1e-6 in linear units: 1.9 % at mid-grey 0.18), clipped to
   [0, 1], encoded to 8-bit sRGB.

The JPEG is written by :func:`write_photo` (quality 88, EXIF DateTimeOriginal).

Random streams: ``day.pattern_seed`` fixes the series' pigment patterns; ``rng`` draws, in this
order, the pose, the day's pattern variation, the roughness, the flakes and the sensor noise.  The
scene, the chart and the light draw nothing, so two renderings with equal seeds differ only
where the room, chart or light differ.

References
----------
A. Foi, M. Trimeche, V. Katkovnik and K. Egiazarian, "Practical Poissonian-Gaussian noise
modeling and fitting for single-image raw-data", IEEE Trans. Image Process. 17:1737-1754 (2008).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..colour.datasets import render_chart
from ..colour.spaces import BT709_LUMINANCE_WEIGHTS, encoded_to_linear, linear_to_srgb8
from ..face.mesh import REGION_LANDMARKS
from ..measure.chromophores import add_chromophores
from ..vocab import FACE_REGIONS
from ._bases import BASES, DEFAULT_BASE
from ._face import (
    DEFAULT_SIZE,
    Pose,
    base_face,
    fill_polygon,
    frame_scale,
    source_linear,
    transform_points,
    warp,
)
from ._light import Light
from ._scene import SCENES, repaint
from ._skin import (
    BASE_ROUGHNESS_PERCENT,
    DRY_ROUGHNESS_PERCENT,
    apply_flakes,
    fine_roughness,
    flake_layers,
    pigment_pattern,
    redness_pattern,
    sample_flakes,
    vary_pattern,
)

__all__ = [
    "CHART_GAIN",
    "METERED_FACE_LUMINANCE",
    "SCENE_GAIN",
    "Day",
    "Rendering",
    "encode_photo",
    "metered_exposure",
    "render_day",
    "render_photo",
    "write_photo",
]

SCENE_GAIN = BASES[DEFAULT_BASE].scene_gain
"""Factor on the astronaut's linear light before the light is applied (-1 EV): her face skin
reaches linear R = 0.96 in the original (median 0.69), and the warmest light of the courses
(2700 K at balance 0.5, red gain 1.55) at exposure 1.25 multiplies red by 1.94; at half the
level no skin pixel clips (checked).  Each base face has its own
(:attr:`BaseSource.scene_gain`)."""

CHART_GAIN = 0.8
"""Factor on the chart's reference linear colours (white patch 0.9 -> 0.72): the card is held
in the same light as the face, a little turned away (our choice)."""

CHART_WIDTH_FRACTION = 0.25
"""Chart width as a fraction of the frame width."""

_CHART_MARGIN_FRACTION = 0.03
_GAP_PER_PATCH = 0.17  # the real chart's black gap relative to a patch (render_chart docs)

_POSE_SHIFT = 0.02  # fraction of the frame
_POSE_ZOOM = 0.03
_POSE_ROLL_DEG = 2.0

_NOISE_SHOT = 6e-5  # variance per unit linear signal
_NOISE_READ = 1e-6  # variance at black

_JPEG_QUALITY = 88

METERED_FACE_LUMINANCE = 0.18
"""Linear luminance (BT.709 Y, 0-1) a phone's face-priority auto exposure brings the face skin
to: the 18 % mid-grey that reflected-light meters are conventionally set up for (our choice of
target; phones differ, and what matters here is that the face, not the scene, sets the
exposure).  At nominal exposure the astronaut's skin averages about Y 0.2, so light skin is
exposed a little darker and darker skin brighter."""


@dataclass(frozen=True)
class Day:
    """What one photo shows: the skin's state, the light and the room.

    Attributes
    ----------
    hours : float
        Time since the treatment, hours (negative before it).
    d_hemoglobin : float
        Excess haemoglobin over the skin, optical density (natural log, Tsumura vector), as the
        face mean; the pattern makes it blotchy (0.6-1.4 x locally).  0 = baseline.
    d_melanin : float
        Excess melanin, optical density, face mean (blotchy, more on the cheeks).
    flakes_per_cm2 : float
        Flake density over cheeks, forehead and chin, per cm^2 (>= 0).
    light : Light
    scene : str
        A key of :data:`analyzer.samples.SCENES`.
    with_chart : bool
        Put a ColorChecker 24 in the frame.
    dryness : float
        In [0, 1]: raises the fine roughness by ``DRY_ROUGHNESS_PERCENT x dryness``.
    pattern_seed : int
        Seed of the series' fixed blotch patterns (same for all days of one series).
    face : str
        The base face, a key of :data:`analyzer.samples.BASES` (default ``"astronaut"``).
    metered_luminance : float or None
        Face-metered exposure: the linear luminance (0-1) the face skin's mean is brought to,
        as a phone's face-priority auto exposure does (e.g. :data:`METERED_FACE_LUMINANCE`);
        the light's own ``exposure`` is then replaced by the metered one.  None (default): the
        light's exposure as given.
    """

    hours: float
    d_hemoglobin: float
    d_melanin: float
    flakes_per_cm2: float
    light: Light
    scene: str
    with_chart: bool = False
    dryness: float = 0.0
    pattern_seed: int = 0
    face: str = DEFAULT_BASE
    metered_luminance: float | None = None

    def __post_init__(self) -> None:
        for name in ("hours", "d_hemoglobin", "d_melanin", "flakes_per_cm2", "dryness"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")
        if self.flakes_per_cm2 < 0:
            raise ValueError(f"flakes_per_cm2 must be >= 0, got {self.flakes_per_cm2}")
        if not 0.0 <= self.dryness <= 1.0:
            raise ValueError(f"dryness must be in [0, 1], got {self.dryness}")
        if self.scene not in SCENES:
            raise ValueError(f"unknown scene {self.scene!r}; choose one of {', '.join(SCENES)}")
        if self.face not in BASES:
            raise ValueError(f"unknown base face {self.face!r}; choose one of {', '.join(BASES)}")
        m = self.metered_luminance
        if m is not None and not (math.isfinite(m) and 0.0 < m < 1.0):
            raise ValueError(f"metered_luminance must be in (0, 1) or None, got {m}")

    @property
    def roughness_percent(self) -> float:
        """Standard deviation of the synthetic fine relief (intact plus dry), % of luminance."""
        return math.hypot(BASE_ROUGHNESS_PERCENT, DRY_ROUGHNESS_PERCENT * self.dryness)


@dataclass(frozen=True, eq=False)
class Rendering:
    """A rendered photo and what the renderer drew at random (for the ground truth).

    Attributes
    ----------
    rgb : ndarray of uint8, shape (h, w, 3)
        Encoded sRGB, before JPEG.
    pose : Pose
    px_per_mm : float
        Photo pixels per mm on the face (iris scale of the base, times zoom).
    flakes : int
        Flakes drawn.
    flake_zone_cm2 : float
        Area they were spread over.
    chart_box : tuple of int (x0, y0, x1, y1) or None
        Where the chart is.
    regions_d_hemoglobin, regions_d_melanin : float
        The excess densities actually drawn, averaged the way the analyzer's face value is:
        over the skin (mask >= 0.5) inside its four face regions (forehead, cheeks, chin;
        polygons on the base landmarks, posed), area-weighted.  They differ from the day's
        face means by the blotch pattern's luck and the hair over the forehead.
    exposure : float
        The exposure the photo was taken at: ``day.light.exposure``, or the face-metered one
        when ``day.metered_luminance`` is set.
    """

    rgb: np.ndarray
    pose: Pose
    px_per_mm: float
    flakes: int
    flake_zone_cm2: float
    chart_box: tuple[int, int, int, int] | None
    regions_d_hemoglobin: float
    regions_d_melanin: float
    exposure: float = 1.0


def _draw_pose(rng: np.random.Generator) -> Pose:
    u = rng.uniform(-1.0, 1.0, 4)
    return Pose(
        shift_x=float(u[0] * _POSE_SHIFT),
        shift_y=float(u[1] * _POSE_SHIFT),
        scale=float(1.0 + u[2] * _POSE_ZOOM),
        rotation_deg=float(u[3] * _POSE_ROLL_DEG),
    )


def _frame(face: str, size: tuple[int, int], pose: Pose) -> np.ndarray:
    """Step 1: the posed base photo in linear light, x the face's scene gain."""
    base = base_face(face)
    img = warp(source_linear(face), base.source_to_photo(size, pose), size, interpolation=cv2.INTER_LANCZOS4)
    np.maximum(img, 0.0, out=img)  # Lanczos overshoot
    return img * np.float32(base.source.scene_gain)


def _template_layer(face: str, layer: np.ndarray, size: tuple[int, int], pose: Pose) -> np.ndarray:
    """A template-frame map of base ``face`` resampled into the photo (bilinear, edges replicated)."""
    return warp(layer, base_face(face).template_to_photo(size, pose), size, border=cv2.BORDER_REPLICATE)


def _region_means(face: str, maps: tuple[np.ndarray, ...], skin: np.ndarray, size, pose) -> tuple[float, ...]:
    """Area-weighted means of ``maps`` over the skin (>= 0.5) of the four face regions."""
    base = base_face(face)
    pts = transform_points(base.source_to_photo(size, pose), base.points)
    inside = np.zeros(skin.shape, bool)
    for name in FACE_REGIONS:
        inside |= fill_polygon(skin.shape, pts[list(REGION_LANDMARKS[name])]) > 0
    inside &= skin >= 0.5
    if not inside.any():
        return tuple(float("nan") for _ in maps)
    return tuple(float(m[inside].mean()) for m in maps)


def _skin(day: Day, img: np.ndarray, rng: np.random.Generator, size, pose, px_per_mm: float):
    """Step 2: pigment, roughness and flakes.

    Returns (image, flakes drawn, zone cm^2, (region mean d_hemoglobin, d_melanin))."""
    face = base_face(day.face)
    skin_t = face.template["skin"]
    mm_t = face.template_px_per_mm
    red = vary_pattern(rng, redness_pattern(day.pattern_seed, day.face), skin_t, mm_t)
    dh = _template_layer(day.face, day.d_hemoglobin * red * skin_t, size, pose)
    pigment = pigment_pattern(day.pattern_seed, day.face)
    dm = _template_layer(day.face, day.d_melanin * pigment * skin_t, size, pose)
    img = add_chromophores(img, dh, dm)

    skin = _template_layer(day.face, skin_t, size, pose)
    truth = _region_means(day.face, (dh, dm), skin, size, pose)
    relief = fine_roughness(
        rng, skin.shape, px_per_mm, BASE_ROUGHNESS_PERCENT, DRY_ROUGHNESS_PERCENT * day.dryness
    )
    img *= np.exp(relief * skin)[..., None]

    zone = _template_layer(day.face, face.template["flake_zone"], size, pose) >= 0.5
    flakes, area = sample_flakes(rng, zone, px_per_mm, day.flakes_per_cm2)
    if flakes:
        lift, whiten = flake_layers(skin.shape, flakes, px_per_mm)
        img = apply_flakes(img, lift, whiten)
    return img, len(flakes), area, truth


def _chart(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Step 4: paste the chart in the bottom-right corner.  Returns (image, box)."""
    h, w = img.shape[:2]
    target = CHART_WIDTH_FRACTION * w
    patch = max(4, int(target / (6 + 7 * _GAP_PER_PATCH)))
    gap = max(1, round(_GAP_PER_PATCH * patch))
    chart = encoded_to_linear(render_chart(patch, gap)) * np.float32(CHART_GAIN)
    ch, cw = chart.shape[:2]
    margin = round(_CHART_MARGIN_FRACTION * w)
    x0, y0 = w - margin - cw, h - margin - ch
    out = img.copy()
    out[y0 : y0 + ch, x0 : x0 + cw] = chart
    return out, (x0, y0, x0 + cw, y0 + ch)


def metered_exposure(linear: np.ndarray, skin: np.ndarray, light: Light, target: float) -> float:
    """The exposure at which the face skin's mean linear luminance reaches ``target``.

    Phones meter on the face they detect: the exposure is set so the face, not the whole
    scene, lands on a fixed level.

    Parameters
    ----------
    linear : ndarray of float32, shape (h, w, 3)
        The frame in linear sRGB before the light (scene, skin and room already drawn).
    skin : ndarray of float32, shape (h, w), in [0, 1]
        The skin mask in the same frame; pixels at 0.5 or more are metered.
    light : Light
        Its cast (``residual_gains``) is applied before metering; its ``exposure`` is ignored.
    target : float
        Linear luminance (BT.709 Y) in (0, 1).

    Returns
    -------
    float
        Exposure factor (> 0) to use in place of ``light.exposure``.

    Raises
    ------
    ValueError
        No skin pixel in the mask, or ``target`` outside (0, 1).

    Examples
    --------
    >>> from analyzer.samples import NEUTRAL
    >>> img, skin = np.full((2, 2, 3), 0.09, np.float32), np.ones((2, 2), np.float32)
    >>> round(metered_exposure(img, skin, NEUTRAL, 0.18), 3)
    2.0
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    inside = skin >= 0.5
    if not inside.any():
        raise ValueError("no skin pixel to meter on")
    cast = (light.gains() / light.exposure).astype(np.float32)
    y = float(((linear[inside] * cast) @ BT709_LUMINANCE_WEIGHTS.astype(np.float32)).mean())
    return target / y


def _sensor(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Step 6: Poisson-Gaussian noise, clip, encode to uint8 sRGB."""
    np.maximum(img, 0.0, out=img)
    sigma = np.sqrt(img * np.float32(_NOISE_SHOT) + np.float32(_NOISE_READ))
    img = img + sigma * rng.standard_normal(img.shape, dtype=np.float32)
    return linear_to_srgb8(img)


def _check_size(size) -> tuple[int, int]:
    """(width, height) as ints, validated as a 3:4 portrait (ValueError otherwise)."""
    if size is None:
        return DEFAULT_SIZE
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    frame_scale((w, h))
    return w, h


def render_photo(day: Day, *, rng: np.random.Generator, size: tuple[int, int] | None = None) -> Rendering:
    """Render one synthetic selfie and report what was drawn at random.

    Parameters
    ----------
    day : Day
        The skin's state, the light and the room.
    rng : numpy.random.Generator
        Source of the pose, the day's pattern variation, roughness, flakes and sensor noise.
    size : (int, int), optional
        (width, height) px, portrait 3:4; default :data:`DEFAULT_SIZE` (1440 x 1920, about
        4.4 px/mm on the face).  Smaller frames keep the framing and have fewer px/mm.

    Returns
    -------
    Rendering

    Raises
    ------
    ValueError
        ``size`` is not a 3:4 portrait of at least 120 x 160 px.
    analyzer.errors.ModelMissing
        On the first call, if the face landmark model is not installed.
    """
    size = _check_size(size)
    pose = _draw_pose(rng)
    base = base_face(day.face)
    px_per_mm = base.px_per_mm(size, pose)
    img = _frame(day.face, size, pose)
    img, n_flakes, area, (reg_h, reg_m) = _skin(day, img, rng, size, pose, px_per_mm)
    img = repaint(img, day.scene, _template_layer(day.face, base.template["wall"], size, pose),
                  _template_layer(day.face, base.template["clothes"], size, pose))  # fmt: skip
    box = None
    if day.with_chart:
        img, box = _chart(img)
    gains, exposure = day.light.gains(), day.light.exposure
    if day.metered_luminance is not None:
        skin = _template_layer(day.face, base.template["skin"], size, pose)
        exposure = metered_exposure(img, skin, day.light, day.metered_luminance)
        gains = gains / day.light.exposure * exposure
    img *= gains.astype(np.float32)
    rgb = _sensor(img, rng)
    return Rendering(rgb, pose, px_per_mm, n_flakes, area, box, reg_h, reg_m, exposure)


def render_day(day: Day, *, rng: np.random.Generator, size: tuple[int, int] | None = None) -> np.ndarray:
    """Render one synthetic selfie: uint8 sRGB, shape (height, width, 3), before JPEG.

    See :func:`render_photo` (which also returns the pose and the flake count).
    """
    return render_photo(day, rng=rng, size=size).rgb


def write_photo(path, rgb: np.ndarray, *, captured_at: datetime, quality: int = _JPEG_QUALITY) -> Path:
    """Write a JPEG with EXIF DateTimeOriginal (and OffsetTimeOriginal when ``captured_at`` is aware).

    Parameters
    ----------
    path : str or Path
        Output file (parent folders are created).
    rgb, captured_at, quality
        As :func:`encode_photo`.

    Returns
    -------
    Path
    """
    data = encode_photo(rgb, captured_at=captured_at, quality=quality)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def encode_photo(rgb: np.ndarray, *, captured_at: datetime, quality: int = _JPEG_QUALITY) -> bytes:
    """A JPEG in memory with EXIF DateTimeOriginal (and OffsetTimeOriginal when ``captured_at``
    is aware).

    Parameters
    ----------
    rgb : ndarray of uint8, shape (h, w, 3)
        Encoded sRGB.
    captured_at : datetime
        Capture time; written as local time ``YYYY:MM:DD HH:MM:SS`` (EXIF 2.32 tag 0x9003),
        with its UTC offset as ``+HH:MM`` (tag 0x9011) when it has one.
    quality : int
        JPEG quality 1-95 (Pillow scale; default 88).

    Returns
    -------
    bytes
    """
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3):
        raise ValueError("rgb must be a uint8 array of shape (h, w, 3)")
    if not 1 <= int(quality) <= 95:
        raise ValueError(f"quality must be in 1-95, got {quality}")
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)  # Exif IFD
    ifd[0x9003] = captured_at.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    offset = captured_at.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        ifd[0x9011] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"  # OffsetTimeOriginal
    buf = BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=int(quality), exif=exif)
    return buf.getvalue()
