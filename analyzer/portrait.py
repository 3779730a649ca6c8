"""A face photo for tests and benchmarks: NASA's public-domain portrait, upscaled.

The face is the portrait of astronaut Eileen Collins as shipped with scikit-image
(``skimage.data.astronaut()``, 512x512; no download).  Upscaling adds no detail: texture numbers
from it are not those of a real phone photo.  The demo patients' photo series are in
``sample_images/`` (made by :mod:`analyzer.samples`).
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

__all__ = ["demo_face"]


def demo_face(scale: int = 4) -> np.ndarray:
    """The astronaut portrait upscaled ``scale`` times: uint8 RGB, shape (512*scale, 512*scale, 3)."""
    rgb = data.astronaut()
    return cv2.resize(rgb, (512 * scale, 512 * scale), interpolation=cv2.INTER_CUBIC)
