"""Write a demo selfie for first-time users: ``python -m analyzer.demo OUT.jpg``.

The face is NASA's public-domain portrait of astronaut Eileen Collins as shipped with
scikit-image (``skimage.data.astronaut()``, 512x512), upscaled 4x with bicubic interpolation to
a phone-like 2048x2048 JPEG with an EXIF capture time.  Upscaling adds no detail: texture
numbers from it are not those of a real phone photo.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

__all__ = ["demo_face", "write_demo_photo"]


def demo_face(scale: int = 4) -> np.ndarray:
    """The astronaut portrait upscaled ``scale`` times: uint8 RGB, shape (512*scale, 512*scale, 3)."""
    rgb = data.astronaut()
    return cv2.resize(rgb, (512 * scale, 512 * scale), interpolation=cv2.INTER_CUBIC)


def write_demo_photo(path: str | Path, *, when: datetime = datetime(2026, 11, 5, 9, 30, 12)) -> Path:
    """Write the demo face as a JPEG (quality 92) with EXIF DateTimeOriginal ``when``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    Image.fromarray(demo_face()).save(path, "JPEG", quality=92, exif=exif)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m analyzer.demo OUT.jpg", file=sys.stderr)
        sys.exit(2)
    print(write_demo_photo(sys.argv[1]))
