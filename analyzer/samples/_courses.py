"""Healing courses after micro-needling as data, and writing a course's photos with ground truth.

Biology (functions of the hours ``t`` since the treatment; 0 before it):

======================  =====================================================================
quantity                model
======================  =====================================================================
excess haemoglobin      ``E(t) = 0.33 x 2^(-t / 22 h)`` OD: 0.30 at 3 h, 0.16 at 24 h, 0.07 at
                        48 h, 0.03 at 72 h (the project's default course: t1/2 20-26 h for
                        micropore closure, "resolved by 72 h"; docs/science.md#expected-course,
                        Hackethal 2021).  ``persistent_redness``: t1/2 = 6 days (144 h; still
                        71 % of the peak at 72 h and 45 % at day 7: "transient erythema lasting
                        up to 7 days", Chu 2021).  ``redness_rebound``: plus 0.18 OD rising
                        from 78 h to 90 h, held to day 5, then halving daily (a late flare:
                        "sudden reappearance of redness", docs/science.md#warning-signs)
excess melanin          0, except ``darkening``: from day 6 a linear rise to 0.15 OD at day 12
                        (0.05 at day 8, 0.10 at day 10), then flat (post-inflammatory
                        hyperpigmentation, docs/science.md#warning-signs)
flakes                  per cm^2, linear between (day, value) knots (3.2, 0) (4, 4) (5, 5)
                        (6, 1.5) (6.8, 0): peeling on days 4-5 (docs/science.md#dryness-and-peeling)
dryness                 in [0, 1], knots (1, 0) (2, 1) (3, 1) (4, 0.5) (5, 0.4) (6, 0.15)
                        (6.7, 0): dry skin on days 2-3, still a little while peeling
======================  =====================================================================

Schedule: photos at 09:00 local time plus or minus up to 20 minutes (uniform), the treatment
at 09:00 on 3 November 2026 (+01:00); a baseline the day before, one 3 h after, then daily
(or on the course's days).  Light and room per photo from a seeded stream: CCT from
:data:`CCT_CHOICES` (every value once before any repeats), auto white balance strength uniform
in 0.5-0.8, exposure uniform in 0.75-1.25, the bathroom with probability 0.6, else one of the
other rooms.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .._version import __version__ as ANALYZER_VERSION
from ._bases import DEFAULT_BASE, base_source
from ._face import DEFAULT_SIZE, base_face, frame_scale
from ._light import Light
from ._render import CHART_GAIN, Day, render_photo, write_photo
from ._scene import SCENES

__all__ = [
    "CCT_CHOICES",
    "COURSES",
    "GENERATOR_VERSION",
    "TREATED_AT",
    "Course",
    "excess_hemoglobin",
    "generate_course",
    "photo_name",
]

GENERATOR_VERSION = "1.0"
"""Version of the generator's models; recorded in every ground-truth file."""

TREATED_AT = datetime(2026, 11, 3, 9, 0, tzinfo=timezone(timedelta(hours=1)))
"""Default treatment time: 3 November 2026, 09:00 local (+01:00)."""

CCT_CHOICES: tuple[float, ...] = (2700.0, 3000.0, 3500.0, 4000.0, 5000.0, 5500.0, 6500.0, 7500.0)
"""K.  Room lights of the schedule: warm LED/tungsten to overcast daylight."""

AWB_RANGE = (0.5, 0.8)
EXPOSURE_RANGE = (0.75, 1.25)
BATHROOM_PROBABILITY = 0.6
TIME_JITTER_MIN = 20.0
"""Minutes: photos are taken at the nominal time plus or minus up to this."""

E0_OD = 0.33
T_HALF_H = 22.0
PERSISTENT_T_HALF_H = 144.0
REBOUND_OD = 0.18
DARKENING_OD = 0.15

_FLAKE_KNOTS = ((3.2, 0.0), (4.0, 4.0), (5.0, 5.0), (6.0, 1.5), (6.8, 0.0))
_DRYNESS_KNOTS = ((1.0, 0.0), (2.0, 1.0), (3.0, 1.0), (4.0, 0.5), (5.0, 0.4), (6.0, 0.15), (6.7, 0.0))


# ------------------------------------------------------------------------------------------
# Biology
# ------------------------------------------------------------------------------------------


def excess_hemoglobin(hours: float, e0: float = E0_OD, t_half_h: float = T_HALF_H) -> float:
    """Excess haemoglobin ``e0 x 2^(-t / t_half)`` OD after the treatment, 0 before it.

    Examples
    --------
    >>> [round(excess_hemoglobin(t), 3) for t in (-24, 3, 24, 48, 72)]
    [0.0, 0.3, 0.155, 0.073, 0.034]
    """
    return 0.0 if hours < 0 else e0 * 2.0 ** (-hours / t_half_h)


def _knots(day: float, knots: tuple[tuple[float, float], ...]) -> float:
    """Piecewise-linear value at ``day`` (0 outside the knots)."""
    xs, ys = zip(*knots)
    return float(np.interp(day, xs, ys, left=0.0, right=0.0))


def flakes_per_cm2(hours: float) -> float:
    """Peeling density, flakes per cm^2 (days 4-5; see the module table)."""
    return _knots(hours / 24.0, _FLAKE_KNOTS)


def dryness(hours: float) -> float:
    """Dryness in [0, 1] (days 2-3; see the module table)."""
    return _knots(hours / 24.0, _DRYNESS_KNOTS)


def _rebound(hours: float) -> float:
    """The late flare of ``redness_rebound``, OD: smooth rise 78-90 h, flat to 120 h, t1/2 24 h."""
    if hours < 78.0:
        return 0.0
    if hours < 90.0:
        s = (hours - 78.0) / 12.0
        return REBOUND_OD * s * s * (3.0 - 2.0 * s)
    if hours <= 120.0:
        return REBOUND_OD
    return REBOUND_OD * 2.0 ** (-(hours - 120.0) / 24.0)


def _darkening(hours: float) -> float:
    """Excess melanin of ``darkening``, OD: 0 to day 6, linear to 0.15 at day 12, then flat."""
    return DARKENING_OD * float(np.clip((hours / 24.0 - 6.0) / 6.0, 0.0, 1.0))


def _normal_hb(t: float) -> float:
    return excess_hemoglobin(t)


def _persistent_hb(t: float) -> float:
    return excess_hemoglobin(t, t_half_h=PERSISTENT_T_HALF_H)


def _rebound_hb(t: float) -> float:
    return excess_hemoglobin(t) + _rebound(t)


def _no_melanin(t: float) -> float:
    return 0.0


# ------------------------------------------------------------------------------------------
# Courses
# ------------------------------------------------------------------------------------------


def _daily(days) -> tuple[float, ...]:
    """Nominal photo times in hours: baseline (-24 h), 3 h, then the given days at 24 h each."""
    return (-24.0, 3.0) + tuple(24.0 * d for d in days)


@dataclass(frozen=True)
class Course:
    """One healing course: when photos are taken and what the skin does.

    Calling it (``COURSES["normal"]()``) returns its list of :class:`Day`.

    Attributes
    ----------
    name : str
    description : str
        What happens to the skin.
    expected : str
        What the analyzer should show.
    nominal_hours : tuple of float
        Photo times, hours since the treatment, before the time-of-day jitter.
    hemoglobin, melanin : callable (hours -> OD)
        Face-mean excess haemoglobin and melanin, optical density.
    """

    name: str
    description: str
    expected: str
    nominal_hours: tuple[float, ...]
    hemoglobin: Callable[[float], float]
    melanin: Callable[[float], float]

    def __call__(self, seed: int = 0, *, with_chart: bool = False, face: str = DEFAULT_BASE) -> list[Day]:
        """The course's days with the light/room schedule of ``seed``.

        Parameters
        ----------
        seed : int
            Seeds the time jitter, lights, rooms and the skin patterns.
        with_chart : bool
            Put a ColorChecker in every photo.
        face : str
            The base face (a key of :data:`analyzer.samples.BASES`).

        Returns
        -------
        list of Day, in time order.
        """
        rng = np.random.default_rng([seed, _stream(self.name), 0])
        n = len(self.nominal_hours)
        jitter_h = rng.uniform(-1.0, 1.0, n) * TIME_JITTER_MIN / 60.0
        lights = _lights(rng, n)
        scenes = _scenes(rng, n)
        days = []
        for t0, dt, light, scene in zip(self.nominal_hours, jitter_h, lights, scenes):
            t = round(round(float(t0 + dt) * 3600.0) / 3600.0, 6)  # whole seconds
            days.append(
                Day(
                    hours=t,
                    d_hemoglobin=round(self.hemoglobin(t), 5),
                    d_melanin=round(self.melanin(t), 5),
                    flakes_per_cm2=round(flakes_per_cm2(t), 3),
                    light=light,
                    scene=scene,
                    with_chart=with_chart,
                    dryness=round(dryness(t), 3),
                    pattern_seed=seed,
                    face=face,
                )
            )
        return days


def _stream(name: str) -> int:
    """A stable integer per course name (CRC-32), so each course has its own random stream."""
    return zlib.crc32(name.encode("utf-8"))


def _lights(rng: np.random.Generator, n: int) -> list[Light]:
    """n lights: CCTs cycling through shuffled CCT_CHOICES, AWB strength and exposure uniform."""
    ccts: list[float] = []
    while len(ccts) < n:
        ccts.extend(rng.permutation(CCT_CHOICES).tolist())
    awb = rng.uniform(*AWB_RANGE, n)
    exposure = rng.uniform(*EXPOSURE_RANGE, n)
    return [
        Light(cct_k=float(c), awb_strength=round(float(a), 3), exposure=round(float(e), 3))
        for c, a, e in zip(ccts[:n], awb, exposure)
    ]


def _scenes(rng: np.random.Generator, n: int) -> list[str]:
    """n rooms: the bathroom with probability 0.6, else another room, uniformly."""
    others = [s for s in SCENES if s != "bathroom"]
    home = rng.random(n) < BATHROOM_PROBABILITY
    pick = rng.integers(0, len(others), n)
    return ["bathroom" if h else others[k] for h, k in zip(home, pick)]


COURSES: Mapping[str, Course] = MappingProxyType(
    {
        c.name: c
        for c in (
            Course(
                "normal",
                "Uncomplicated healing: redness 0.30 OD at 3 h halving every 22 h (0.03 at 72 h), "
                "dry skin on days 2-3, peeling on days 4-5 (up to 5 flakes/cm2), settled by "
                "days 6-7; melanin unchanged.",
                "face redness highest at 3 h, falling to baseline by day 3-4; texture up on days "
                "2-5; flaking up on days 4-5 only; melanin flat.",
                _daily(range(1, 15)),
                _normal_hb,
                _no_melanin,
            ),
            Course(
                "persistent_redness",
                "Redness that fades too slowly (half-life 6 days): still 71 % of the peak at "
                "72 h and 45 % at day 7; dryness and peeling as normal.",
                "face redness still clearly above baseline at day 3 and at day 7 (> 25 % of "
                "the 3 h excess): a flag for slow healing.",
                _daily((1, 2, 3, 5, 7, 9)),
                _persistent_hb,
                _no_melanin,
            ),
            Course(
                "redness_rebound",
                "Normal fading, then redness comes back: +0.18 OD from day 3.5, held on days "
                "4-5, halving daily after (a late flare, e.g. irritation or infection).",
                "face redness falls to near baseline by day 3, rises again on days 4-5, then "
                "falls: a flag for a reappearance of redness.",
                _daily((1, 2, 3, 4, 5, 6, 8)),
                _rebound_hb,
                _no_melanin,
            ),
            Course(
                "darkening",
                "Normal redness course, then post-inflammatory hyperpigmentation: melanin "
                "rising from day 6 to +0.15 OD at day 12 (blotchy, mostly on the cheeks).",
                "face melanin flat to day 6, then rising (+0.05 at day 8, +0.15 at day 12-14), "
                "cheeks most; redness as normal.",
                _daily((1, 3, 6, 8, 10, 12, 14)),
                _normal_hb,
                _darkening,
            ),
        )
    }
)
"""The courses by name (read-only)."""


# ------------------------------------------------------------------------------------------
# Writing a course
# ------------------------------------------------------------------------------------------


def photo_name(captured_at: datetime) -> str:
    """Phone-style file name ``IMG_YYYYMMDD_HHMMSS.jpg`` (parsed by the loader's file-name rule).

    Examples
    --------
    >>> photo_name(datetime(2026, 11, 3, 9, 30, 12))
    'IMG_20261103_093012.jpg'
    """
    return captured_at.strftime("IMG_%Y%m%d_%H%M%S.jpg")


def _photo_rng(seed: int, course: str, index: int) -> np.random.Generator:
    """The render stream of one photo of a course."""
    return np.random.default_rng([seed, _stream(course), 1, index])


def _label(nominal_h: float) -> str:
    if nominal_h < 0:
        return "baseline"
    if nominal_h < 24:
        return f"+{nominal_h:g} h"
    return f"day {nominal_h / 24:g}"


def _photo_truth(path: Path, day: Day, nominal_h: float, when: datetime, r) -> dict:
    """The ground-truth record of one photo (see sample_images/README.md)."""
    return {
        "file": path.name,
        "captured_at": when.isoformat(),
        "label": _label(nominal_h),
        "hours": day.hours,
        "d_hemoglobin": day.d_hemoglobin,
        "d_melanin": day.d_melanin,
        "regions_d_hemoglobin": round(r.regions_d_hemoglobin, 5),
        "regions_d_melanin": round(r.regions_d_melanin, 5),
        "flakes_per_cm2": day.flakes_per_cm2,
        "flakes_drawn": r.flakes,
        "flake_zone_cm2": round(r.flake_zone_cm2, 2),
        "dryness": day.dryness,
        "roughness_percent": round(day.roughness_percent, 3),
        "light": {
            "cct_k": day.light.cct_k,
            "awb_strength": day.light.awb_strength,
            "exposure": day.light.exposure,
            "gains": [round(float(g), 4) for g in day.light.gains()],
        },
        "scene": day.scene,
        "with_chart": day.with_chart,
        "chart_box": list(r.chart_box) if r.chart_box else None,
        "pose": {
            "shift_x": round(r.pose.shift_x, 4),
            "shift_y": round(r.pose.shift_y, 4),
            "scale": round(r.pose.scale, 4),
            "rotation_deg": round(r.pose.rotation_deg, 3),
        },
        "px_per_mm": round(r.px_per_mm, 3),
    }


def _course_truth(
    course: Course,
    seed: int,
    treated_at: datetime,
    size,
    quality: int,
    photos: list,
    face: str = DEFAULT_BASE,
) -> dict:
    """The ground-truth file of one course (see sample_images/README.md)."""
    src = base_source(face)
    return {
        "course": course.name,
        "description": course.description,
        "expected": course.expected,
        "treated_at": treated_at.isoformat(),
        "base_photo": {
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in src.provenance.items()},
            "field_of_view_px": list(src.field_of_view),
            "upscale": round(frame_scale(size, src.field_of_view), 4),
            "scene_gain": src.scene_gain,
            "chart_gain": CHART_GAIN,
        },
        "size": list(size),
        "px_per_mm": round(base_face(face).px_per_mm(size), 3),
        "jpeg_quality": quality,
        "units": {
            "hours": "h since treated_at",
            "d_hemoglobin": "optical density (natural log, Tsumura vector), face mean, excess over baseline",
            "d_melanin": "optical density (natural log, Tsumura vector), face mean, excess over baseline",
            "regions_d_hemoglobin": "OD actually drawn, mean over the skin of the analyzer's forehead, cheeks and chin",
            "regions_d_melanin": "OD actually drawn, mean over the skin of the analyzer's forehead, cheeks and chin",
            "flakes_per_cm2": "flakes per cm2 of cheek/forehead/chin skin",
            "dryness": "0-1",
            "roughness_percent": "std of synthetic fine ln-luminance relief, %",
            "light.gains": "linear sRGB multipliers (residual cast x exposure), G = exposure",
        },
        "generator": {
            "name": "analyzer.samples",
            "version": GENERATOR_VERSION,
            "analyzer_version": ANALYZER_VERSION,
            "seed": seed,
        },
        "photos": photos,
    }


def _remove_previous(out: Path) -> None:
    """Delete the photos listed by an earlier ground_truth.json in ``out`` (and only those)."""
    truth = out / "ground_truth.json"
    if not truth.is_file():
        return
    try:
        old = json.loads(truth.read_text())
        names = [p["file"] for p in old.get("photos", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    for name in names:
        f = out / Path(name).name
        if f.is_file():
            f.unlink()


def generate_course(
    out_dir,
    course: str,
    *,
    seed: int = 0,
    treated_at: datetime = TREATED_AT,
    size: tuple[int, int] | None = None,
    with_chart: bool = False,
    quality: int = 88,
    face: str = DEFAULT_BASE,
) -> list[Path]:
    """Render a course's photos into ``out_dir`` with a ``ground_truth.json``.

    Parameters
    ----------
    out_dir : str or Path
        The course's folder (created).  Photos listed by an earlier ground_truth.json there
        are replaced.
    course : str
        A key of :data:`COURSES`.
    seed : int
        Seeds everything random (schedule, patterns, poses, flakes, noise): same seed, same
        files.
    treated_at : datetime
        Treatment time; photo times follow it (aware datetimes also get an EXIF offset).
    size : (int, int), optional
        (width, height), 3:4; default 1440 x 1920.
    with_chart : bool
        A ColorChecker in every photo.
    quality : int
        JPEG quality (default 88).
    face : str
        The base face, a key of :data:`analyzer.samples.BASES` (default ``"astronaut"``; the
        ground truth's ``base_photo`` names it).

    Returns
    -------
    list of Path
        The photos, in time order.

    Raises
    ------
    ValueError
        Unknown course or face, bad size.
    """
    if course not in COURSES:
        raise ValueError(f"unknown course {course!r}; choose one of {', '.join(COURSES)}")
    c = COURSES[course]
    size = tuple(size) if size is not None else DEFAULT_SIZE
    frame_scale(size)  # validates
    base_source(face)  # validates
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    paths, records = [], []
    for i, (day, nominal) in enumerate(zip(c(seed, with_chart=with_chart, face=face), c.nominal_hours)):
        when = treated_at + timedelta(seconds=round(day.hours * 3600.0))
        r = render_photo(day, rng=_photo_rng(seed, course, i), size=size)
        path = write_photo(out / photo_name(when), r.rgb, captured_at=when, quality=quality)
        paths.append(path)
        records.append(_photo_truth(path, day, nominal, when, r))
    truth = _course_truth(c, seed, treated_at, size, quality, records, face)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return paths
