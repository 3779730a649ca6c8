"""analyzer.align: faces lined up with the baseline, shown in corrected light."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from analyzer.align import ANCHORS, align_face, face_outline, locate_face, reference_frame
from analyzer.colour.spaces import encoded_to_linear, linear_to_srgb
from analyzer.errors import AnalyzerError

PHOTO = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))[0]


def cast(data: bytes, gains) -> bytes:
    """The photo under a coloured light: linear channels multiplied by ``gains``."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    lin = encoded_to_linear(rgb) * np.asarray(gains, np.float32)
    out = np.round(linear_to_srgb(np.clip(lin, 0, 1)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def test_anchors_land_on_the_reference(az):
    face = locate_face(az, PHOTO.read_bytes(), corrected=False)
    target = reference_frame(face.points, 300)
    # a face lined up on its own reference frame: the anchors' pixels are where the frame says
    m = target[list(ANCHORS)] - face.points[list(ANCHORS)]
    scale = np.linalg.norm(target[33] - target[263]) / np.linalg.norm(face.points[33] - face.points[263])
    assert 0.1 < scale < 1.0  # the frame is smaller than the photo
    assert np.ptp(m[:, 0]) > 0  # a real transform, not a shift
    img = align_face(face, target, 300)
    assert img.shape == (300, 300, 3) and img.dtype == np.uint8
    oval = face_outline(target, 300)
    assert oval.shape == (300, 300, 4) and oval[..., 3].max() > 0 and oval[150, 150, 3] == 0  # a line, not a fill


def test_corrected_faces_agree_under_different_light(az):
    data = PHOTO.read_bytes()
    warm = cast(data, (1.25, 1.0, 0.7))
    base = locate_face(az, data)
    target = reference_frame(base.points, 240)

    def skin_mean(source: bytes, corrected: bool) -> np.ndarray:
        img = align_face(locate_face(az, source, corrected=corrected), target, 240)
        return img[110:150, 80:160].reshape(-1, 3).mean(axis=0)  # cheeks and nose

    neutral = skin_mean(data, True)
    raw_gap = np.abs(skin_mean(warm, False) - skin_mean(data, False)).max()
    fixed_gap = np.abs(skin_mean(warm, True) - neutral).max()
    print(f"skin mean gap under a warm cast: raw {raw_gap:.1f}, corrected {fixed_gap:.1f} (8-bit levels)")
    assert raw_gap > 10 and fixed_gap < raw_gap / 5  # seen: raw 16.6, corrected 0.2


def test_no_face_is_a_clear_error(az):
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 180, 170)).save(buf, "JPEG")
    with pytest.raises(AnalyzerError, match="no face"):
        locate_face(az, buf.getvalue(), name="wall.jpg")
