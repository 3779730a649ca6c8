"""Reduced copies of an image for searching it (the face, the chart), made cheaply.

A search needs about a thousand pixels on the long side, not a 12 MP photo, and the copy's exact
filter hardly matters; its cost does.  OpenCV's area averaging is fast only for an integer factor
that divides both sides (0.3 ms from 2016 x 1512 to 1008 x 756); by any other factor it costs
3-13 ms.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["shrink"]

SLACK = 0.1
"""How far the copy's long side may stray from the one asked for, as a fraction, so that an exact
integer reduction can be used."""


def shrink(image: np.ndarray, long_side: int) -> np.ndarray:
    """A copy of ``image`` whose long side is about ``long_side`` px (within :data:`SLACK`), or
    ``image`` itself when it is not larger than that.

    When an integer factor k divides both sides and brings the long side within
    ``long_side * (1 ± SLACK)``, the copy is the exact k x k box average.  Otherwise the image is
    resampled bilinearly to twice ``long_side`` and box-averaged 2 x 2 (about 1 ms from 12 MP).
    Either way the copy spans the whole image: a point (x, y) of the copy is at
    (x * W / w, y * H / h) in the image (pixel centres aligned as :func:`cv2.resize` aligns them).

    >>> shrink(np.zeros((1512, 2016, 3), np.uint8), 1000).shape
    (756, 1008, 3)
    >>> shrink(np.zeros((1734, 2312, 3), np.uint8), 1000).shape
    (750, 1000, 3)
    >>> shrink(np.zeros((750, 1050, 3), np.uint8), 1000).shape
    (750, 1050, 3)
    """
    h, w = image.shape[:2]
    big = max(h, w)
    if big <= long_side * (1 + SLACK):
        return image
    k = math.ceil(big / (long_side * (1 + SLACK)))
    if h % k == 0 and w % k == 0 and big / k >= long_side * (1 - SLACK):
        return cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    f = long_side / big
    size = (max(1, round(w * f)), max(1, round(h * f)))
    twice = cv2.resize(image, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(twice, size, interpolation=cv2.INTER_AREA)
