"""Landmarks and head pose on the astronaut photo (analyzer.face.landmarks)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from analyzer.errors import ModelChecksumMismatch, ModelMissing, NoFaceFound, UnsupportedPhoto
from analyzer.face.landmarks import FaceLandmarks, Landmarker, _head_pose
from analyzer.face.mesh import CHIN, FOREHEAD_TOP, LEFT_EYE_OUTER, N_LANDMARKS, NOSE_TIP, RIGHT_EYE_OUTER

UPPER_LIP = 0  # MediaPipe: the middle of the upper lip's outer contour


@pytest.fixture(scope="module")
def face(landmarker: Landmarker, astronaut: np.ndarray) -> FaceLandmarks:
    return landmarker.detect(astronaut, name="astronaut.png")


def squeeze_left_half(rgb: np.ndarray, x_centre: float, left: float, right: float) -> np.ndarray:
    """Compress the image left of ``x_centre`` by ``left`` and stretch the right by ``right``
    (what a head turned towards the person's own right looks like in 2-D)."""
    h, w = rgb.shape[:2]
    d = np.arange(w, dtype=np.float32) - np.float32(x_centre)
    src = np.where(d < 0, x_centre + d / left, x_centre + d / right).astype(np.float32)
    map_x = np.ascontiguousarray(np.broadcast_to(src, (h, w)))
    map_y = np.ascontiguousarray(np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)))
    return cv2.remap(rgb, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def rotate(rgb: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """Rotate counter-clockwise (as displayed) by ``degrees`` about ``centre``."""
    m = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(rgb, m, rgb.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def test_finds_the_one_face_with_anatomically_ordered_points(face: FaceLandmarks, astronaut):
    p = face.points
    assert p.shape == (N_LANDMARKS, 3) and p.dtype == np.float32
    assert face.faces_found == 1
    h, w = astronaut.shape[:2]
    assert (p[:, 0] > 0).all() and (p[:, 0] < w).all() and (p[:, 1] > 0).all() and (p[:, 1] < h).all()
    # Her face is in the upper middle of the portrait, about 90 px wide.
    assert 200 < p[NOSE_TIP, 0] < 250 and 110 < p[NOSE_TIP, 1] < 150
    assert 80 < p[454, 0] - p[234, 0] < 100
    # Top to bottom: forehead, eyes, nose tip, upper lip, chin.
    eyes_y = p[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER], 1].mean()
    assert p[FOREHEAD_TOP, 1] < eyes_y < p[NOSE_TIP, 1] < p[UPPER_LIP, 1] < p[CHIN, 1]
    # Not mirrored (the name tag reads left to right): her left eye is on the image right.
    assert p[LEFT_EYE_OUTER, 0] > p[NOSE_TIP, 0] > p[RIGHT_EYE_OUTER, 0]
    # Iris centres lie between the corners of their own eye.
    assert p[33, 0] < p[468, 0] < p[133, 0] and p[362, 0] < p[473, 0] < p[263, 0]


def test_posed_portrait_reads_close_to_frontal(face: FaceLandmarks):
    assert abs(face.yaw_deg) < 10 and abs(face.pitch_deg) < 10 and abs(face.roll_deg) < 10


def test_points_are_in_the_pixels_of_the_input_whatever_its_size(landmarker, astronaut, face):
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)  # run at 1024 px
    f4 = landmarker.detect(big)
    err = np.abs(f4.points[:, :2] / 4 - face.points[:, :2])
    assert err.mean() < 0.6 and np.median(err) < 0.5
    # z is in the same pixel units as x: it scales with the image as well.
    assert np.corrcoef(f4.points[:, 2], face.points[:, 2])[0, 1] > 0.99
    assert 3.5 < np.ptp(f4.points[:, 2]) / np.ptp(face.points[:, 2]) < 4.5


def test_uint16_input_gives_the_same_landmarks(landmarker, astronaut, face):
    f16 = landmarker.detect(astronaut.astype(np.uint16) * 257)
    np.testing.assert_array_equal(f16.points, face.points)


@pytest.mark.parametrize("degrees", [-20.0, 20.0])
def test_roll_follows_an_image_rotation(landmarker, astronaut, face, degrees):
    turned = landmarker.detect(rotate(astronaut, tuple(face.points[NOSE_TIP, :2].tolist()), degrees))
    # Positive roll = the face turned counter-clockwise in the image.
    assert turned.roll_deg - face.roll_deg == pytest.approx(degrees, abs=5.0)


def test_mirroring_flips_yaw_and_roll_but_not_the_side_labels(landmarker, astronaut, face):
    m = landmarker.detect(np.ascontiguousarray(astronaut[:, ::-1]))
    assert m.roll_deg == pytest.approx(-face.roll_deg, abs=2.0)
    assert m.yaw_deg == pytest.approx(-face.yaw_deg, abs=3.0)
    # The mesh cannot tell a mirror image from a face: "left eye" (263) stays on the image
    # right, so in a mirrored selfie it is the person's right eye.
    assert m.points[LEFT_EYE_OUTER, 0] > m.points[NOSE_TIP, 0] > m.points[RIGHT_EYE_OUTER, 0]
    w = astronaut.shape[1]
    assert m.points[LEFT_EYE_OUTER, 0] == pytest.approx(w - face.points[RIGHT_EYE_OUTER, 0], abs=2.0)


def test_yaw_is_negative_when_the_head_turns_to_its_own_right(landmarker, astronaut, face):
    # Her right half (image left) foreshortened, her left half widened.
    f = landmarker.detect(squeeze_left_half(astronaut, float(face.points[NOSE_TIP, 0]), 0.45, 1.5))
    assert f.yaw_deg < -15


def test_head_pose_conventions_on_synthetic_matrices():
    def matrix(r):
        m = np.eye(4)
        m[:3, :3] = r
        m[:3, 3] = (0.0, 0.0, -60.0)  # straight in front of the camera
        return m

    a = np.radians(30)
    c, s = np.cos(a), np.sin(a)
    ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # face normal towards +x (image right)
    rx_up = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])  # face normal towards +y (up)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])  # counter-clockwise in the image
    assert _head_pose(matrix(ry)) == pytest.approx((30.0, 0.0, 0.0), abs=1e-6)
    assert _head_pose(matrix(rx_up)) == pytest.approx((0.0, 30.0, 0.0), abs=1e-6)
    assert _head_pose(matrix(rz)) == pytest.approx((0.0, 0.0, 30.0), abs=1e-6)
    # A frontal face above the image centre that looks into the lens reads 0, not "down".
    m = np.eye(4)
    m[:3, 3] = (0.0, 20.0, -60.0)
    tilt = np.arctan2(20.0, 60.0)
    m[:3, :3] = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    assert _head_pose(m) == pytest.approx((0.0, 0.0, 0.0), abs=1e-6)


def test_the_largest_of_several_faces_is_returned(landmarker, astronaut, face):
    big = cv2.resize(astronaut, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    second = cv2.resize(big[300:700, 700:1100], None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    big[150 : 150 + second.shape[0], 40 : 40 + second.shape[1]] = second
    f = landmarker.detect(big)
    assert f.faces_found == 2
    assert np.abs(f.points[:, :2] / 4 - face.points[:, :2]).mean() < 1.0


def test_no_face_is_a_clear_error(landmarker):
    grey = np.full((480, 640, 3), 128, np.uint8)
    with pytest.raises(NoFaceFound) as err:
        landmarker.detect(grey, name="day3.jpg")
    assert err.value.file == "day3.jpg"
    assert "no face found" in str(err.value) and "whole face in the frame" in str(err.value)


@pytest.mark.parametrize(
    "bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3), np.float32)]
)
def test_unsupported_arrays_are_refused(landmarker, bad):
    with pytest.raises(UnsupportedPhoto, match="x.png"):
        landmarker.detect(bad, name="x.png")


def test_concurrent_detection_gives_identical_results(landmarker, astronaut, face):
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: landmarker.detect(astronaut), range(8)))
    for r in results:
        np.testing.assert_array_equal(r.points, face.points)


def test_model_file_is_checked(tmp_path):
    with pytest.raises(ModelMissing):
        Landmarker(tmp_path / "missing.task")
    bad = tmp_path / "bad.task"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelChecksumMismatch):
        Landmarker(bad)


def test_close_is_idempotent_and_final(landmarker, astronaut):
    with Landmarker(landmarker.model_path) as lm:
        assert lm.detect(astronaut).faces_found == 1
    lm.close()
    with pytest.raises(RuntimeError, match="closed"):
        lm.detect(astronaut)


def test_detect_time_on_a_phone_sized_photo(landmarker, astronaut):
    photo = cv2.resize(astronaut[:384], (2016, 1512), interpolation=cv2.INTER_CUBIC)
    landmarker.detect(photo)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        landmarker.detect(photo)
        times.append(time.perf_counter() - t)
    ms = 1000 * float(np.median(times))
    print(f"detect on 2016x1512: {ms:.1f} ms (median of 5)")
    assert ms < 250


def test_a_dropped_landmarker_is_not_closed_by_the_garbage_collector():
    """MediaPipe's own ``__del__`` closes at whatever moment the collector picks, and that close
    was seen to deadlock a Streamlit script thread; an unclosed Landmarker stays referenced until
    exit, and ``close()`` releases it."""
    import gc

    from analyzer.face import landmarks

    lm = landmarks.Landmarker()
    mp = lm._mp
    del lm
    gc.collect()
    assert mp in landmarks._OPEN
    again = landmarks.Landmarker()
    held = again._mp
    again.close()
    assert held not in landmarks._OPEN
    landmarks._OPEN.discard(mp)
    mp.close()
