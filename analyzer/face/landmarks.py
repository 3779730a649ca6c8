"""Face landmarks and head pose from MediaPipe Face Landmarker (Tasks API).

:class:`Landmarker` wraps one MediaPipe ``FaceLandmarker`` (``RunningMode.IMAGE``) and returns
the 478 landmarks of the largest face as pixel coordinates of the image it was given, plus the
head pose.  It is thread-safe (one lock around inference) and should be created once and reused:
loading the model takes about 0.3 s, one detection about 10-20 ms.

Coordinates
-----------
=========  ======================================================================================
axis       meaning
=========  ======================================================================================
x          pixels from the image's left edge (pixel ``i`` spans ``[i, i+1)``), float
y          pixels from the image's top edge, float
z          relative depth in the same pixel units as x (MediaPipe's z times the image width);
           0 near the face centre, negative towards the camera
=========  ======================================================================================

Landmark 0-467 are the face mesh, 468-472 the right iris and 473-477 the left iris (centre, then
four contour points); :mod:`analyzer.face.mesh` names the index sets the code uses.  MediaPipe
names sides as for a non-mirrored photo: its "left" eye (landmarks 263, 362, 473) is always the
one on the image's right.  That is the person's own left in a non-mirrored photo (rear camera;
front cameras that save unmirrored, the iOS default), but their right in a mirrored selfie: the
mesh cannot tell a mirror image from a face (checked: flipping the astronaut keeps 263 on the
image right).

Head pose
---------
Angles in degrees from the facial transformation matrix (the rigid transform from MediaPipe's
canonical face model to the detected face, in a camera frame with x to the image right, y up
and the camera looking along -z).  The rotation is taken *relative to the line of sight* from
the camera to the face, so a face away from the image centre that looks into the lens reads 0
(MediaPipe assumes a 63-degree vertical field of view for this).  Decomposition
``R = R_y(yaw) . R_x(-pitch) . R_z(roll)``:

=========  ======================================================================================
angle      positive when
=========  ======================================================================================
yaw        the nose turns towards the image right (the person turns towards their own left in
           a non-mirrored photo)
pitch      the chin is raised (looking up)
roll       the face appears rotated counter-clockwise in the image (the head leans towards the
           person's right shoulder in a non-mirrored photo)

Mirroring the photo flips the signs of yaw and roll.
=========  ======================================================================================

References
----------
Kartynnik et al. (2019), "Real-time Facial Surface Geometry from Monocular Video on Mobile
GPUs", arXiv:1907.06724 (the 468-point mesh).  Ablavatski et al. (2020), "Real-time Pupil
Tracking from Monocular Video for Digital Puppetry", arXiv:2006.11341 (iris landmarks).
MediaPipe Face Landmarker guide and face geometry module (canonical model, transformation
matrix, perspective camera): https://ai.google.dev/edge/mediapipe/solutions/vision/face_landmarker
"""

from __future__ import annotations

import atexit
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from .._resample import exact_reduction
from ..errors import ModelMissing, NoFaceFound, UnsupportedPhoto
from .model import FETCH_COMMAND, MODEL_SHA256, _verify_file, resolve_model_path

__all__ = ["FaceLandmarks", "Landmarker"]

_DETECT_LONG_SIDE = 1024
"""px.  MediaPipe runs on a copy reduced to about this long side (:func:`_downscale`; its
detector works on 128 or 192 px inputs and the mesh on 256 px crops, so more pixels only cost
time, and fewer do not save any: docs/performance.md)."""


@dataclass(frozen=True, eq=False)
class FaceLandmarks:
    """The landmarks and head pose of one face.

    Attributes
    ----------
    points : ndarray of float32, shape (478, 3)
        x, y in pixels of the image passed to :meth:`Landmarker.detect` (see the module
        docstring for the conventions); z relative depth in the same units.
    faces_found : int
        Number of faces MediaPipe found (>= 1); ``points`` belong to the largest.
    yaw_deg, pitch_deg, roll_deg : float
        Head pose in degrees, signs as in the module docstring (NaN if MediaPipe returned no
        transformation matrix).
    """

    points: np.ndarray
    faces_found: int
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


_OPEN: set = set()
"""MediaPipe landmarkers not closed yet.  Holding them here means a Landmarker dropped without
:meth:`Landmarker.close` is never closed by MediaPipe's ``__del__`` at whatever moment the
garbage collector picks: that close waits on MediaPipe's dispatcher and was seen to deadlock the
thread it landed on (a Streamlit script thread, in the middle of a database query).  They are
closed at interpreter exit instead."""


@atexit.register
def _close_open_landmarkers() -> None:
    while _OPEN:
        mp = _OPEN.pop()
        try:
            mp.close()
        except Exception:  # noqa: BLE001, S110 - at exit MediaPipe's executor may already be gone
            pass


class Landmarker:
    """MediaPipe Face Landmarker, reusable and thread-safe.

    Parameters
    ----------
    model_path : str or Path, optional
        The ``face_landmarker.task`` file; default :func:`~analyzer.face.model.resolve_model_path`.
        Its SHA-256 is checked either way: another model version would move every region.
    max_faces : int, optional
        Most faces looked for (default 4); the largest is returned.

    Raises
    ------
    ModelMissing, ModelChecksumMismatch
        The model cannot be found, is not the expected file, or MediaPipe cannot load it.

    Examples
    --------
    >>> with Landmarker() as lm:                       # doctest: +SKIP
    ...     face = lm.detect(rgb, name="day3.jpg")
    """

    def __init__(self, model_path: str | Path | None = None, *, max_faces: int = 4) -> None:
        from mediapipe.tasks.python import BaseOptions, vision  # heavy; imported on first use

        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        if model_path is None:
            path = resolve_model_path()
        else:
            path = Path(model_path)
            if not path.is_file():
                raise ModelMissing(
                    str(path), "the face landmark model file does not exist",
                    f"pass the path of face_landmarker.task, or omit it and run: {FETCH_COMMAND}",
                )  # fmt: skip
            _verify_file(path, MODEL_SHA256)
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=max_faces,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._mp = vision.FaceLandmarker.create_from_options(options)
            _OPEN.add(self._mp)
        except (RuntimeError, ValueError) as exc:
            raise ModelMissing(
                str(path), f"MediaPipe could not load the face landmark model ({exc})",
                f"delete the file and run: {FETCH_COMMAND}",
            ) from exc  # fmt: skip
        self.model_path = path
        self._lock = threading.Lock()

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release MediaPipe's resources.  Idempotent; :meth:`detect` fails afterwards."""
        with self._lock:
            if self._mp is not None:
                _OPEN.discard(self._mp)
                self._mp.close()
                self._mp = None

    def detect(self, rgb: np.ndarray, *, name: str = "<image>") -> FaceLandmarks:
        """Find the largest face and return its landmarks and head pose.

        Parameters
        ----------
        rgb : ndarray of uint8 or uint16, shape (H, W, 3)
            Encoded sRGB, RGB order (uint16 is reduced to 8 bits by ``>> 8``).
        name : str, optional
            The file name, used in error messages.

        Returns
        -------
        FaceLandmarks
            Points in pixels of ``rgb``.

        Raises
        ------
        UnsupportedPhoto
            ``rgb`` is not an (H, W, 3) uint8/uint16 array.
        NoFaceFound
            MediaPipe found no face.
        RuntimeError
            The landmarker was closed.
        """
        rgb8 = _as_rgb8(rgb, name)
        h, w = rgb8.shape[:2]
        small = _downscale(rgb8, _DETECT_LONG_SIDE)

        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
        with self._lock:
            if self._mp is None:
                raise RuntimeError("Landmarker is closed; create a new one")
            result = self._mp.detect(image)

        faces = result.face_landmarks
        if not faces:
            raise NoFaceFound(
                name,
                "no face found in the photo",
                "take the photo facing the camera with the whole face in the frame, in even light",
            )
        arrays = [
            np.array([(p.x, p.y, p.z) for p in face], dtype=np.float64) * (w, h, w)
            for face in faces
        ]
        areas = [np.ptp(a[:, 0]) * np.ptp(a[:, 1]) for a in arrays]
        best = int(np.argmax(areas))
        matrices = result.facial_transformation_matrixes or []
        yaw, pitch, roll = (
            _head_pose(np.asarray(matrices[best])) if best < len(matrices) else (math.nan,) * 3
        )
        return FaceLandmarks(
            points=arrays[best].astype(np.float32),
            faces_found=len(faces),
            yaw_deg=yaw,
            pitch_deg=pitch,
            roll_deg=roll,
        )


# --- private helpers --------------------------------------------------------------------------


def _as_rgb8(rgb: np.ndarray, name: str) -> np.ndarray:
    """Check the array and return it as uint8 (uint16 >> 8)."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise UnsupportedPhoto(
            name,
            f"the image must be an RGB array of shape (H, W, 3), got shape {shape}",
            "decode the photo as colour RGB (grayscale and alpha images are not supported)",
        )
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype == np.uint16:
        return (rgb >> 8).astype(np.uint8)
    raise UnsupportedPhoto(
        name,
        f"the image must hold 8- or 16-bit integers, got {rgb.dtype}",
        "decode the photo to uint8 or uint16 sRGB before landmark detection",
    )


def _downscale(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Area-average ``rgb`` down so its long side is at most about ``long_side`` px: exactly by
    an integer factor when one lands within 2 % (:func:`analyzer._resample.exact_reduction`;
    0.3 ms for a 12 MP photo decoded at half size, where the general area resampling costs
    4.8 ms), else to ``long_side`` exactly."""
    h, w = rgb.shape[:2]
    f = long_side / max(h, w)
    if f >= 1.0:
        return rgb
    exact = exact_reduction(rgb, long_side)
    if exact is not None:
        return exact
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _head_pose(matrix: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees from MediaPipe's 4x4 facial transformation matrix.

    The rotation is first expressed relative to the line of sight: ``Q`` is the smallest
    rotation taking the camera's +z axis onto the direction from the face to the camera,
    and ``R_rel = Q^T R``.  Then ``R_rel = R_y(yaw) R_x(-pitch) R_z(roll)`` is solved:
    ``yaw = atan2(R02, R22)``, ``pitch = asin(R12)``, ``roll = atan2(R10, R11)``.
    """
    m = np.asarray(matrix, dtype=np.float64).reshape(4, 4)
    rot = m[:3, :3]
    t = m[:3, 3]
    norm = np.linalg.norm(t)
    if norm > 0:
        rot = _rotation_between((0.0, 0.0, 1.0), -t / norm).T @ rot
    yaw = math.degrees(math.atan2(rot[0, 2], rot[2, 2]))
    pitch = math.degrees(math.asin(float(np.clip(rot[1, 2], -1.0, 1.0))))
    roll = math.degrees(math.atan2(rot[1, 0], rot[1, 1]))
    return yaw, pitch, roll


def _rotation_between(a: tuple[float, float, float], b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    a = np.asarray(a, dtype=np.float64)
    v = np.cross(a, b)
    s = float(np.linalg.norm(v))
    c = float(np.dot(a, b))
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + k + k @ k * ((1.0 - c) / s**2)
