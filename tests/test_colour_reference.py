"""The light reference: the eyes' iris and sclera colours, measured on a drawn pair of eyes.

Two eyes are drawn with known linear colours (iris (0.08, 0.05, 0.03): ln R/G = 0.470,
ln B/G = -0.511; sclera (0.62, 0.60, 0.58): ln R/G = 0.0328, ln B/G = -0.0339) on skin, with the
landmarks the measurement reads placed on them.  The medians must come back exactly, move by
exactly ln g under a diagonal change of light, and ignore exposure and catchlights.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from analyzer.colour.reference import MIN_PART_PX, eyes_box, measure_light_reference
from analyzer.face.mesh import LEFT_EYE, LEFT_IRIS, N_LANDMARKS, RIGHT_EYE, RIGHT_IRIS
from analyzer.result import LightReference

IRIS = np.array([0.08, 0.05, 0.03], np.float32)
SCLERA = np.array([0.62, 0.60, 0.58], np.float32)
SKIN = np.array([0.45, 0.30, 0.22], np.float32)


def _eyes(scale: float = 1.0, catchlight: bool = False):
    """(linear image, valid mask, landmarks) of two open eyes; ``scale`` sizes everything."""
    h, w = round(120 * scale), round(320 * scale)
    img = np.empty((h, w, 3), np.float32)
    img[:] = SKIN
    pts = np.zeros((N_LANDMARKS, 3))
    for eye, iris, cx in ((LEFT_EYE, LEFT_IRIS, 230 * scale), (RIGHT_EYE, RIGHT_IRIS, 90 * scale)):
        cy, a, b, r = 60 * scale, 55 * scale, 22 * scale, 18 * scale
        t = np.linspace(0, 2 * np.pi, len(eye), endpoint=False)
        contour = np.stack([cx + a * np.cos(t), cy + b * np.sin(t)], axis=1)
        pts[list(eye), :2] = contour
        pts[iris[0], :2] = (cx, cy)
        for k, ang in enumerate((0, np.pi / 2, np.pi, 3 * np.pi / 2)):
            pts[iris[1 + k], :2] = (cx + r * np.cos(ang), cy + r * np.sin(ang))
        opening = np.zeros((h, w), np.uint8)
        cv2.fillPoly(opening, [np.round(contour).astype(np.int32)], 1)
        img[opening.astype(bool)] = SCLERA
        disc = np.zeros((h, w), np.uint8)
        cv2.circle(disc, (round(cx), round(cy)), round(r), 1, -1)
        img[disc.astype(bool) & opening.astype(bool)] = IRIS
        if catchlight:  # a bright window reflected on the iris, inside the sampled annulus
            cv2.circle(img, (round(cx + 0.6 * r), round(cy - 0.2 * r)), max(1, round(0.15 * r)),
                       (0.95, 0.95, 0.95), -1)
    return img, np.ones((h, w), bool), pts


def _ratios(c: np.ndarray) -> tuple[float, float]:
    return math.log(c[0] / c[1]), math.log(c[2] / c[1])


def test_the_drawn_colours_come_back():
    img, valid, pts = _eyes()
    ref = measure_light_reference(img, valid, pts)
    assert set(ref.parts) == {"iris", "sclera"}
    for part, colour in (("iris", IRIS), ("sclera", SCLERA)):
        c = ref.parts[part]
        rg, bg = _ratios(colour)
        for eye in (c.left, c.right):
            assert eye[0] == pytest.approx(rg, abs=1e-5) and eye[1] == pytest.approx(bg, abs=1e-5)
        assert c.se_rg < 1e-4 and c.px >= MIN_PART_PX


def test_a_change_of_light_moves_every_part_by_the_log_gains_and_exposure_by_nothing():
    img, valid, pts = _eyes()
    before = measure_light_reference(img, valid, pts)
    g = np.array([1.6, 1.0, 0.55], np.float32)  # a warm light
    warm = measure_light_reference(img * g * 0.7, valid, pts)  # ... and 30 % less exposure
    for part in ("iris", "sclera"):
        assert warm.parts[part].log_rg - before.parts[part].log_rg == pytest.approx(math.log(1.6), abs=1e-5)
        assert warm.parts[part].log_bg - before.parts[part].log_bg == pytest.approx(math.log(0.55), abs=1e-5)


def test_catchlights_and_invalid_pixels_are_left_out():
    img, valid, pts = _eyes(catchlight=True)
    ref = measure_light_reference(img, valid, pts)
    assert ref.parts["iris"].log_rg == pytest.approx(_ratios(IRIS)[0], abs=1e-5)
    # Pixels the camera clipped are not read: mark a red blotch on the sclera as invalid.
    img2, valid2, _ = _eyes()
    img2[40:80, 170:190] = (0.9, 0.2, 0.2)
    valid2[40:80, 170:190] = False
    assert measure_light_reference(img2, valid2, pts).parts["sclera"].log_rg == pytest.approx(
        _ratios(SCLERA)[0], abs=1e-5)


def test_eyes_too_small_or_one_eye_hidden_give_no_part():
    img, valid, pts = _eyes(scale=0.1)  # eye 11 x 4 px, iris radius 1.8 px: too few pixels
    assert measure_light_reference(img, valid, pts).parts == {}
    img, valid, pts = _eyes()
    valid[:, :160] = False  # the right eye (image left) is hidden
    assert measure_light_reference(img, valid, pts).parts == {}


def test_eyes_box_and_bad_shapes():
    img, valid, pts = _eyes()
    x0, y0, x1, y1 = eyes_box(pts, img.shape[:2])
    assert (x0, y0) == (33, 36) and (x1, y1) == (288, 85)
    # A crop measured with its origin gives the same colours as the whole image.
    crop = measure_light_reference(img[y0:y1, x0:x1], valid[y0:y1, x0:x1], pts, (x0, y0))
    assert crop.parts["iris"].left == pytest.approx(measure_light_reference(img, valid, pts).parts["iris"].left)
    with pytest.raises(ValueError, match=r"linear \(h, w, 3\) and valid \(h, w\) must match"):
        measure_light_reference(img, valid[:-1], pts)


def test_the_reference_survives_its_dictionary():
    img, valid, pts = _eyes()
    ref = measure_light_reference(img, valid, pts)
    back = LightReference.from_dict(ref.to_dict())
    assert back.parts["sclera"].left == pytest.approx(ref.parts["sclera"].left, abs=1e-5)
    assert back.parts["iris"].px == ref.parts["iris"].px
    assert LightReference.from_dict(None) is None
