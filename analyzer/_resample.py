"""Reduced copies of an image for searching it (the face, the chart), made cheaply when they can be.

A search needs about a thousand pixels on the long side, not a 12 MP photo.  OpenCV's area
averaging is fast only for an integer factor that divides both sides (2016 x 1512 to 1008 x 756:
0.3 ms with OpenCV's two threads, 0.8 ms with one); by any other factor it costs 3-13 ms.  A phone's 12 MP JPEG, decoded at half size
(2016 x 1512), reduces by exactly 2 to within 2 % of a 1024 or 1000 px search size, so the
searches use that exact reduction when one lands so close, and their own resampling otherwise.
The landmarks, the chart and the light's context all ask for the same half (1008 x 756 from
2016 x 1512): it is made once per photo (:func:`exact_reduction` keeps its last copy of a
read-only image).
"""

from __future__ import annotations

import threading
import weakref

import cv2
import numpy as np

__all__ = ["TOLERANCE", "exact_reduction"]

TOLERANCE = 0.02
"""How far (as a fraction) an exact reduction's long side may lie from the one asked for.  Tight:
the searches' results depend a little on their input size, and a photo whose exact reduction
lands farther off is searched as before."""


def exact_reduction(image: np.ndarray, long_side: int, tolerance: float = TOLERANCE) -> np.ndarray | None:
    """The exact k x k box average of ``image`` (integer k >= 2 dividing both sides) whose long
    side lies within ``tolerance`` of ``long_side``; None when there is none.

    A point (x, y) of the copy, in pixel-edge coordinates, is (k x, k y) of ``image``.

    >>> exact_reduction(np.zeros((1512, 2016, 3), np.uint8), 1024).shape
    (756, 1008, 3)
    >>> exact_reduction(np.zeros((1440, 1920, 3), np.uint8), 1024) is None  # 960 is 6 % off
    True
    >>> exact_reduction(np.zeros((1511, 2016, 3), np.uint8), 1024) is None  # 2 does not divide 1511
    True
    """
    h, w = image.shape[:2]
    big = max(h, w)
    k = round(big / long_side)
    if k < 2 or h % k or w % k or abs(big / k - long_side) > tolerance * long_side:
        return None
    if image.flags.writeable:
        return cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    # A read-only image (a loaded photo's pixels) cannot change under the copy, so the copy is
    # kept for the next search of the same photo (one per thread; read-only as well).
    last = getattr(_last, "copy", None)
    if last is not None and last[0]() is image and last[1] == k:
        return last[2]
    small = cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
    small.setflags(write=False)
    _last.copy = (weakref.ref(image), k, small)
    return small


_last = threading.local()
"""This thread's last exact reduction of a read-only image: (weak reference to the image, k,
the copy)."""
