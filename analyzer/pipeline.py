"""analyze_photo = load -> locate -> normalise -> check -> measure.

One photo in, one immutable :class:`~analyzer.result.PhotoResult` out.  The steps are the
modules named in the imports; this module only wires them and forms the face value.

The landmark model is the one costly resource (about 40 ms to load).  :class:`Analyzer` holds it
between :meth:`Analyzer.open` (or ``with``) and :meth:`Analyzer.close`; :func:`shared_analyzer`
keeps one open :class:`Analyzer` per process and settings (guarded by a lock, closed at exit), the
one :func:`analyze_photo` and the Dask workers use, so repeated calls do not reload it.  The
command line and the dashboard open theirs through :mod:`analyzer.service.analyzers`.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .colour.balance import (
    SCLERA_FALLBACK,
    apply_gains,
    build_context,
    estimate_gains,
    sclera_visible,
    validate_method,
)
from .colour.chart import apply_matrix
from .colour.chart_detect import detect_and_fit
from .colour.reference import eyes_box, measure_light_reference
from .colour.spaces import linear_to_srgb8, luminance
from .errors import AnalyzerError
from .face.landmarks import FaceLandmarks, Landmarker
from .face.quality import assess_quality, clipping, quality_issue
from .face.regions import FaceRegions, locate_regions
from .face.scale import resample_to_scale
from .intake import Photo, load_photo
from .measure.chromophores import chromophores_of_mean, separate
from .measure.redness import _crop_to_mask, a_star_of_mean, erythema_index, erythema_index_of_mean
from .measure.texture import flaking_density, log_of_luminance, roughness
from .result import METRIC_KEYS, Calibration, LightReference, Metrics, PhotoMaps, PhotoResult, Quality
from .settings import DEFAULT, Settings
from .vocab import FACE_REGIONS

__all__ = ["Analyzer", "analyze_photo", "close_shared_analyzers", "shared_analyzer"]

Source = str | os.PathLike | bytes | Photo
"""A photo file, its bytes, or a photo already decoded by :func:`analyzer.intake.load_photo`
(for example one flipped back by :mod:`analyzer.service.imports` when it was saved mirrored)."""


class Analyzer:
    """Analyses photos with one loaded landmark model.

    Parameters
    ----------
    settings : Settings
        Thresholds and methods (default :data:`analyzer.settings.DEFAULT`).
    model_path : str or Path, optional
        The ``face_landmarker.task`` file; by default resolved from ``$ANALYZER_FACE_MODEL`` or
        the user cache (``python -m analyzer fetch-model`` installs it there).

    Examples
    --------
    >>> with Analyzer() as az:                                # doctest: +SKIP
    ...     results = [az.analyze(p) for p in ["day1.jpg", "day2.heic"]]
    """

    def __init__(self, settings: Settings = DEFAULT, model_path: str | Path | None = None):
        validate_method(settings.balance_method)
        self.settings = settings
        self._model_path = model_path
        self._landmarker: Landmarker | None = None

    def open(self) -> "Analyzer":
        """Load the landmark model (once: opening an open analyzer does nothing); returns self.

        Raises
        ------
        ModelMissing, ModelChecksumMismatch
            The model cannot be found, is not the expected file, or cannot be loaded.
        """
        if self._landmarker is None:
            self._landmarker = Landmarker(self._model_path)
        return self

    def __enter__(self) -> "Analyzer":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the model (idempotent); :meth:`open` loads it again."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    @property
    def landmarker(self) -> Landmarker:
        """The loaded face landmarker (for :mod:`analyzer.align`)."""
        if self._landmarker is None:
            raise RuntimeError("use Analyzer inside a 'with' block (the model is not loaded)")
        return self._landmarker

    def analyze(self, source: Source, *, name: str | None = None, keep_maps: bool = False) -> PhotoResult:
        """Analyse one photo; problems with the input come back as ``ok=False`` results.

        Parameters
        ----------
        source : path, bytes or Photo
            A photo file (JPEG, PNG, WebP, TIFF, HEIC/HEIF), its bytes, or an already decoded
            :class:`~analyzer.intake.Photo` (measured as it is).
        name : str, optional
            What to call the input in the result and in messages (default: the path as given,
            or ``"<bytes>"``).
        keep_maps : bool
            Also return per-pixel hemoglobin and redness maps (for overlays).
        """
        return self.analyze_keeping_photo(source, name=name, keep_maps=keep_maps)[0]

    def analyze_keeping_photo(
        self, source: Source, *, name: str | None = None, keep_maps: bool = False
    ) -> tuple[PhotoResult, Photo | None]:
        """:meth:`analyze`, and the decoded :class:`~analyzer.intake.Photo` it measured (None
        when the photo could not be loaded), so a caller that stores the photo
        (:func:`analyzer.intake.encode_stored_copy`) does not decode it a second time."""
        if self._landmarker is None:
            raise RuntimeError("use Analyzer inside a 'with' block (the model is not loaded)")
        if name is not None:
            label = name
        elif isinstance(source, Photo):
            label = source.name
        else:
            label = "<bytes>" if isinstance(source, bytes) else os.fspath(source)
        photo = None
        try:
            photo = source if isinstance(source, Photo) else load_photo(source, settings=self.settings, name=label)
            return _analyze_loaded(photo, self._landmarker, self.settings, keep_maps=keep_maps), photo
        except AnalyzerError as e:
            return PhotoResult.failed(label, e.message), photo


def _analyze_loaded(
    photo: Photo, landmarker: Landmarker, settings: Settings, *, keep_maps: bool
) -> PhotoResult:
    rgb8 = photo.pixels if photo.pixels.dtype == np.uint8 else (photo.pixels >> 8).astype(np.uint8)
    landmarks = landmarker.detect(rgb8, name=photo.name)
    regions = locate_regions(photo.pixels, landmarks, settings=settings)
    x0, y0, x1, y1 = regions.box
    pixels = photo.pixels[y0:y1, x0:x1]
    raw = photo.linear(regions.box)
    corr = light_correction(photo, rgb8, landmarks, settings)
    crop = corr.linear(photo, regions.box) if corr.wants_source and photo.to_srgb_matrix is not None else corr.apply(raw)
    calibration = corr.calibration
    clipped = clipping(pixels, settings)  # on what the camera recorded, before any correction
    quality = assess_quality(
        width=photo.width,
        height=photo.height,
        scale=photo.scale,
        landmarks=landmarks,
        regions=regions,
        linear_crop=raw,
        clipped=clipped,
        settings=settings,
    )
    if calibration.method != settings.balance_method and not calibration.chart_found:
        quality = Quality(quality.issues + (_LIGHT_FALLBACK,))
    measurable = clipped.measurable
    per_region, skin_px = _measure_regions(crop, regions, settings, measurable=measurable)
    return PhotoResult(
        file=photo.name,
        ok=True,
        captured_at=photo.captured_at,
        width=photo.width,
        height=photo.height,
        quality=quality,
        calibration=calibration,
        # px/mm of the original image: the decoded image is photo.scale times smaller.
        scale_px_per_mm=regions.px_per_mm / photo.scale,
        face=_face_value(per_region, skin_px),
        regions=MappingProxyType(per_region),
        skin_fraction=MappingProxyType({k: r.kept_fraction for k, r in regions.regions.items()}),
        maps=_maps(crop, regions) if keep_maps else None,
        light_reference=_light_reference(photo, landmarks, corr, settings, crop, measurable, regions.box),
    )


@dataclass(frozen=True, eq=False)
class LightCorrection:
    """How one photo's light is corrected: ``apply`` maps linear RGB to corrected linear sRGB.

    ``wants_source`` is True for a chart fit, which maps the photo's own linear RGB (its
    profile's primaries, :meth:`Photo.linear` with ``source=True``) onto the reference."""

    apply: Callable[[np.ndarray], np.ndarray]
    wants_source: bool
    calibration: Calibration

    def linear(self, photo: Photo, box=None) -> np.ndarray:
        """The corrected linear sRGB of ``photo`` (or of ``box``)."""
        return self.apply(photo.linear(box, source=self.wants_source))


def light_correction(photo: Photo, rgb8: np.ndarray, landmarks: FaceLandmarks, settings: Settings) -> LightCorrection:
    """The photo's light correction: a ColorChecker fit when one is in the frame, else the
    card-free method of ``settings`` (falling back when the sclera is not visible)."""
    if settings.chart_search:
        fit = detect_and_fit(
            rgb8, long_side=settings.chart_search_long_side, detector=settings.chart_detector
        )
        if fit is not None:
            return LightCorrection(lambda lin: apply_matrix(lin, fit.matrix), True,
                                   Calibration("colorchecker", True, fit.residual_delta_e00))
    method = settings.balance_method
    if method == "none":
        return LightCorrection(lambda lin: lin, False, Calibration(method, False))
    ctx = build_context(photo.pixels, landmarks.points, to_srgb_matrix=photo.to_srgb_matrix, settings=settings)
    if method.startswith("sclera") and not sclera_visible(ctx):
        method = SCLERA_FALLBACK
    gains = estimate_gains(method, ctx)
    return LightCorrection(lambda lin: apply_gains(lin, gains), False, Calibration(method, False))


def _light_reference(
    photo: Photo, landmarks: FaceLandmarks, corr: LightCorrection, settings: Settings,
    crop: np.ndarray, measurable: np.ndarray, crop_box: tuple[int, int, int, int],
) -> LightReference | None:
    """The eyes' reference colours in the corrected frame (:mod:`analyzer.colour.reference`),
    read from the corrected face crop (``crop`` over ``crop_box``, its unclipped pixels
    ``measurable``) when the eyes lie inside it, else decoded from the photo."""
    box = eyes_box(landmarks.points, photo.pixels.shape[:2])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    cx0, cy0, cx1, cy1 = crop_box
    if cx0 <= x0 and cy0 <= y0 and x1 <= cx1 and y1 <= cy1:
        lin = crop[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
        valid = measurable[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    else:
        lin, valid = corr.linear(photo, box), clipping(photo.pixels[y0:y1, x0:x1], settings).measurable
    return measure_light_reference(lin, valid, landmarks.points, (x0, y0))


def _measure_regions(
    crop: np.ndarray, regions: FaceRegions, settings: Settings, *, measurable: np.ndarray | None = None
) -> tuple[dict[str, Metrics], dict[str, int]]:
    """The six numbers for every region, texture and flaking at the fixed px/mm, and the number
    of skin pixels each region was measured on.

    ``measurable`` (H, W) bool removes clipped pixels from every region's skin mask."""
    target = settings.texture_px_per_mm
    # luminance first: one channel to resample instead of three (resampling is linear)
    loglum = log_of_luminance(resample_to_scale(np.ascontiguousarray(luminance(crop)), regions.px_per_mm, target))
    out: dict[str, Metrics] = {}
    skin_px: dict[str, int] = {}
    for name, region in regions.regions.items():
        mask = region.mask if measurable is None else region.mask & measurable
        skin_px[name] = 0
        if not mask.any():
            out[name] = Metrics(*(float("nan"),) * len(METRIC_KEYS))
            continue
        # Every measure reads only its mask's bounding box (nothing outside has weight): the box
        # is cut here once, not by each measure from the whole crop.
        skin_crop, skin = _crop_to_mask(crop, mask)
        skin_px[name] = int(np.count_nonzero(skin))
        melanin, hemoglobin = chromophores_of_mean(skin_crop, skin)
        mask_fixed = resample_to_scale(mask, regions.px_per_mm, target)
        h, w = loglum.shape
        mask_fixed = mask_fixed[:h, :w]
        texture = flaking = float("nan")
        if mask_fixed.any():
            loglum_skin, skin_fixed = _crop_to_mask(loglum, mask_fixed)
            texture = roughness(loglum_skin, skin_fixed, px_per_mm=target, sigma_mm=settings.texture_sigma_mm)
            flaking = flaking_density(
                loglum_skin,
                skin_fixed,
                px_per_mm=target,
                min_mm=settings.flake_min_mm,
                max_mm=settings.flake_max_mm,
                threshold_k=settings.flake_threshold_k,
                min_contrast=settings.flake_min_contrast,
            )
        out[name] = Metrics(
            redness=erythema_index_of_mean(skin_crop, skin),
            hemoglobin=hemoglobin,
            melanin=melanin,
            a_star=a_star_of_mean(skin_crop, skin),
            texture=texture,
            flaking=flaking,
        )
    return out, skin_px


_LIGHT_FALLBACK = quality_issue(
    "light_not_corrected",
    "Your eyes were not clear enough in the photo to correct for the colour of the light, so "
    "redness may shift with the room's light. Look straight at the camera with your eyes open, "
    "or put the colour card in the photo.",
)

def _face_value(per_region: Mapping[str, Metrics], skin_px: Mapping[str, int]) -> Metrics | None:
    """Area-weighted mean over forehead, cheeks and chin: each region weighs the skin pixels it
    was measured on (``skin_px``: its skin mask, less the clipped pixels)."""
    values, weights = [], []
    for name in FACE_REGIONS:
        m = per_region.get(name)
        if m is None or name not in skin_px:
            continue
        row = np.array([getattr(m, k) for k in METRIC_KEYS], dtype=float)
        if np.isfinite(row[0]):
            values.append(row)
            weights.append(float(skin_px[name]))
    if not values:
        return None
    values_arr, w = np.array(values), np.array(weights)
    face = []
    for j in range(values_arr.shape[1]):
        ok = np.isfinite(values_arr[:, j])
        face.append(float(np.average(values_arr[ok, j], weights=w[ok])) if ok.any() else float("nan"))
    return Metrics(*face)


def _maps(crop: np.ndarray, regions: FaceRegions) -> PhotoMaps:
    """Per-pixel hemoglobin and erythema index over the union of the region skin masks."""
    skin = np.zeros(crop.shape[:2], dtype=bool)
    for region in regions.regions.values():
        skin |= region.mask
    _, c_h = separate(crop)
    ei = erythema_index(crop)
    c_h = np.where(skin, c_h, np.nan).astype(np.float32)
    ei = np.where(skin, ei, np.nan).astype(np.float32)
    image = linear_to_srgb8(crop)
    polygons = MappingProxyType({k: r.polygon for k, r in regions.regions.items()})
    return PhotoMaps(box=regions.box, hemoglobin=c_h, redness=ei, image=image, polygons=polygons)


# --- the shared analyzer: one per process and settings ------------------------------------------

_shared_lock = threading.Lock()
_shared: dict[Settings, Analyzer] = {}


def shared_analyzer(settings: Settings = DEFAULT) -> Analyzer:
    """The process's open :class:`Analyzer` for ``settings``: opened on the first call (under a
    lock, so two threads never load the model twice), then reused; closed at interpreter exit
    or by :func:`close_shared_analyzers`.  Used by :func:`analyze_photo` and the Dask workers
    (:mod:`analyzer.service.batch`).  Do not close it yourself.

    Raises
    ------
    ModelMissing, ModelChecksumMismatch
        When the model cannot be loaded (nothing is cached; the next call tries again).
    """
    with _shared_lock:
        az = _shared.get(settings)
        if az is None:
            az = _shared[settings] = Analyzer(settings).open()
        return az


def close_shared_analyzers() -> None:
    """Close the shared analyzers (a Dask worker's teardown calls this: at interpreter exit
    MediaPipe's executor may already be gone, and closing then fails)."""
    with _shared_lock:
        for az in _shared.values():
            try:
                az.close()
            except RuntimeError:  # MediaPipe's executor already shut down at exit: nothing to free
                pass
        _shared.clear()


atexit.register(close_shared_analyzers)


def analyze_photo(source: Source, *, settings: Settings = DEFAULT, keep_maps: bool = False) -> PhotoResult:
    """Analyse one photo with the shared, lazily loaded model (:func:`shared_analyzer`).

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A photo file or its bytes (JPEG, PNG, WebP, TIFF, HEIC/HEIF; any EXIF rotation).
    settings : Settings
        Thresholds and methods.
    keep_maps : bool
        Also return per-pixel hemoglobin and redness maps in ``result.maps``.

    Returns
    -------
    PhotoResult
        ``ok`` is False, with a one-line ``error`` naming the file, cause and fix, when the
        input cannot be analysed (unreadable, no face, a missing model, ...).
    """
    try:
        az = shared_analyzer(settings)
    except AnalyzerError as e:
        label = "<bytes>" if isinstance(source, bytes) else os.fspath(source)
        return PhotoResult.failed(label, f"{label}: not analysed: {e.message}")
    return az.analyze(source, keep_maps=keep_maps)
