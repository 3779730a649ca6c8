"""Shared fixtures.

``astronaut`` is NASA's public-domain portrait of Eileen Collins as shipped with scikit-image
(512 x 512, not mirrored: her name tag reads left to right).  MediaPipe finds her face; it is
about 89 px wide (0.73 px/mm by the iris), so tests that need more pixels use ``astronaut_x4``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """``skimage.data.astronaut()``: (512, 512, 3) uint8 sRGB, read-only."""
    img = data.astronaut()
    img.setflags(write=False)
    return img


@pytest.fixture(scope="session")
def astronaut_x4(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut upscaled x4 with INTER_CUBIC: (2048, 2048, 3) uint8, read-only; the face
    is about 356 px wide, 2.9 px/mm."""
    img = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    img.setflags(write=False)
    return img


@pytest.fixture(scope="session")
def landmarker():
    """One :class:`analyzer.face.landmarks.Landmarker` for the session (the installed model;
    ``python -m analyzer fetch-model`` installs it)."""
    from analyzer.face.landmarks import Landmarker

    with Landmarker() as lm:
        yield lm


@pytest.fixture(scope="session")
def az():
    """One :class:`analyzer.Analyzer` with the default settings for the session (the model is
    loaded once; ``Analyzer.analyze`` keeps no state between photos)."""
    from analyzer.pipeline import Analyzer

    with Analyzer() as a:
        yield a
