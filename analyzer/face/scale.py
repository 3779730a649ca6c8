"""Resampling a crop to the fixed physical scale used for texture, flaking and sharpness.

docs/science.md#physical-scale: texture changes by 25-60 % when resolution halves, so every region is
resampled to ``Settings.texture_px_per_mm`` before any fine-scale measure.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["resample_to_scale"]


def resample_to_scale(image: np.ndarray, px_per_mm: float, target_px_per_mm: float) -> np.ndarray:
    """Resample ``image`` from ``px_per_mm`` to ``target_px_per_mm``.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        float32 data are resampled with area averaging (down) or bicubic interpolation (up);
        bool masks with nearest neighbour.
    px_per_mm, target_px_per_mm : float
        Current and wanted scale, pixels per millimetre, both > 0.

    Returns
    -------
    ndarray of the same dtype, shape about (H*f, W*f[, C]) with f = target / current.
    """
    if px_per_mm <= 0 or target_px_per_mm <= 0:
        raise ValueError(f"scales must be positive, got {px_per_mm} and {target_px_per_mm}")
    f = target_px_per_mm / px_per_mm
    h, w = image.shape[:2]
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if image.dtype == bool:
        return cv2.resize(image.view(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interp)
