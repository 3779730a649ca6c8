"""Photos at two resolutions, and the flag results of the four sample courses, for
:mod:`analyzer.validate`.

Every generated photo is measured twice, as a patient's phone would deliver it:

* **selfie** -- the rendered 1440 x 1920 frame as a JPEG (4.4-7 px/mm on the face, by base face);
* **downsized** -- the same encoded photo reduced as a messaging app reduces a photo before
  sending it (decoded, Lanczos, JPEG quality 88, EXIF kept) to :data:`DOWNSIZED_PX_PER_MM`
  on the face (by the generator's known scale; the analyzer measures its own).

At the downsized resolution a photo refused as too small, or marked ``light_not_corrected``, is
the right outcome: it is counted, not treated as a failure.

**Flag results.**  The four courses of :data:`analyzer.samples.COURSES` are rendered on a face
(with its extra melanin, if any, over the whole course) with the course's own light and room
schedule and **face-metered exposure** (:data:`analyzer.samples.METERED_FACE_LUMINANCE`, as
phones meter on the face), then judged with :func:`analyzer.recovery.analyze_series`:

===================  ==========================================================================
judgement            when
===================  ==========================================================================
right (flagged)      an anomalous course is ``needs_attention`` with its own warning
right (inconclusive) the verdict is ``inconclusive`` (the photos could not tell; its advice says
                     what would)
right (as expected)  the normal course is ``as_expected``
wrong: as expected   an anomalous course judged ``as_expected``: a wrong reassurance
wrong: missed        an anomalous course ``needs_attention`` without its own warning
false warning        any warning or urgent flag other than the course's own (counted apart; a
                     course with one is not right)
===================  ==========================================================================
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import numpy as np
from PIL import Image

from .pipeline import Analyzer
from .recovery import analyze_series
from .recovery.treatment import Treatment
from .result import PhotoResult
from .samples import COURSES, METERED_FACE_LUMINANCE, TREATED_AT, Day, encode_photo, render_photo

__all__ = [
    "DOWNSIZED_PX_PER_MM",
    "EXPECTED_FLAG",
    "RESOLUTIONS",
    "CourseJudgement",
    "PhotoPair",
    "course_photos",
    "downsize",
    "judge_course",
    "measure_pair",
    "photo_outcome",
    "validate_courses",
]

RESOLUTIONS = ("selfie", "downsized")
"""The two resolutions every photo is measured at."""

DOWNSIZED_PX_PER_MM = 1.5
"""px/mm on the face of the downsized photo (issue 11: a downsized photo at 1-2 px/mm)."""

EXPECTED_FLAG: Mapping[str, str | None] = {
    "normal": None,
    "persistent_redness": "persistent_redness",
    "redness_rebound": "redness_rebound",
    "darkening": "darkening",
}
"""The warning each course must raise (sample_images/README.md)."""

_TREATMENT = Treatment(TREATED_AT, needle_depth_mm=1.0)
_JPEG_QUALITY = 88


@dataclass(frozen=True)
class PhotoPair:
    """One generated photo measured at both resolutions.

    Attributes
    ----------
    results : Mapping[str, PhotoResult]
        By resolution (:data:`RESOLUTIONS`).
    exposure : float
        The exposure it was taken at (face-metered or fixed).
    px_per_mm_drawn : float
        The generator's scale of the selfie, px/mm.
    """

    results: Mapping[str, PhotoResult]
    exposure: float
    px_per_mm_drawn: float


def downsize(data: bytes, factor: float) -> bytes:
    """An encoded photo reduced by ``factor`` (> 1) as a messaging app does: decoded, Lanczos,
    JPEG quality 88, EXIF kept."""
    with Image.open(io.BytesIO(data)) as im:
        exif = im.info.get("exif", b"")
        small = im.convert("RGB").resize((round(im.width / factor), round(im.height / factor)), Image.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=_JPEG_QUALITY, exif=exif)
    return buf.getvalue()


def measure_pair(
    az: Analyzer,
    day: Day,
    rng: np.random.Generator,
    name: str,
    *,
    size: tuple[int, int] | None = None,
    captured_at: datetime = TREATED_AT,
) -> PhotoPair:
    """Render ``day``, encode it, and analyse it as a selfie and downsized (see the module)."""
    r = render_photo(day, rng=rng, size=size)
    data = encode_photo(r.rgb, captured_at=captured_at, quality=_JPEG_QUALITY)
    small = downsize(data, max(1.0, r.px_per_mm / DOWNSIZED_PX_PER_MM))
    results = {
        "selfie": az.analyze(data, name=name),
        "downsized": az.analyze(small, name=f"{name} (downsized)"),
    }
    return PhotoPair(results, r.exposure, r.px_per_mm)


def photo_outcome(r: PhotoResult) -> str:
    """``accepted`` (passed the quality gate), ``refused`` (failed or a blocking issue), or
    ``not_corrected`` (accepted, but the light was not corrected: ``light_not_corrected``)."""
    if not (r.ok and r.quality.ok):
        return "refused"
    if any(i.code == "light_not_corrected" for i in r.quality.issues):
        return "not_corrected"
    return "accepted"


@dataclass(frozen=True)
class CourseJudgement:
    """The verdict on one course at one resolution (see the module table).

    Attributes
    ----------
    course, resolution : str
    status : str
        The assessment's status.
    reasons : tuple of str
        Why it is inconclusive, if it is.
    warnings : tuple of str
        Codes of the warning and urgent flags.
    judgement : str
        ``right (flagged)``, ``right (inconclusive)``, ``right (as expected)``,
        ``wrong: as expected``, ``wrong: missed`` or ``wrong: false warning``.
    false_warnings : tuple of str
        Warning codes other than the course's own.
    photos, accepted : int
        Photos of the course, and those that passed the quality gate.
    """

    course: str
    resolution: str
    status: str
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    judgement: str
    false_warnings: tuple[str, ...]
    photos: int
    accepted: int

    @property
    def right(self) -> bool:
        return self.judgement.startswith("right")

    def to_dict(self) -> dict:
        return {**asdict(self), "right": self.right}


def judge_course(course: str, results: Iterable[PhotoResult], resolution: str = "selfie") -> CourseJudgement:
    """Run the series analysis on a course's photos and judge its verdict (module table).

    Raises
    ------
    ValueError
        Unknown course.
    """
    if course not in EXPECTED_FLAG:
        raise ValueError(f"unknown course {course!r}; choose one of {', '.join(EXPECTED_FLAG)}")
    results = list(results)
    s = analyze_series(results, _TREATMENT)
    expected = EXPECTED_FLAG[course]
    warnings = tuple(sorted({f.code for f in s.flags if f.severity in ("warning", "urgent")}))
    false = tuple(w for w in warnings if w != expected)
    a = s.assessment
    if false:
        judgement = "wrong: false warning"
    elif a.status == "inconclusive":
        judgement = "right (inconclusive)"
    elif expected is None:
        judgement = "right (as expected)"
    elif a.status == "as_expected":
        judgement = "wrong: as expected"
    else:
        judgement = "right (flagged)" if expected in warnings else "wrong: missed"
    accepted = sum(photo_outcome(r) != "refused" for r in results)
    return CourseJudgement(course, resolution, a.status, tuple(a.reasons), warnings, judgement, false,
                           len(results), accepted)  # fmt: skip


def course_photos(
    az: Analyzer, course: str, *, face: str, melanin: float = 0.0, seed: int = 1
) -> dict[str, list[PhotoResult]]:
    """The photos of one course on ``face`` (+ ``melanin`` OD over the skin), face-metered,
    analysed at both resolutions: resolution -> results in time order."""
    days = COURSES[course](seed, face=face)
    out: dict[str, list[PhotoResult]] = {res: [] for res in RESOLUTIONS}
    for i, day in enumerate(days):
        day = replace(day, d_melanin=day.d_melanin + melanin, metered_luminance=METERED_FACE_LUMINANCE)
        when = TREATED_AT + timedelta(seconds=round(day.hours * 3600.0))
        rng = np.random.default_rng([seed, zlib.crc32(course.encode("utf-8")), 1, i])  # as generate_course
        pair = measure_pair(az, day, rng, f"{face} {course} {i:02d}", captured_at=when)
        for res in RESOLUTIONS:
            out[res].append(pair.results[res])
    return out


def validate_courses(
    az: Analyzer, *, face: str, melanin: float = 0.0, seed: int = 1, courses: Iterable[str] = tuple(EXPECTED_FLAG)
) -> dict[str, list[CourseJudgement]]:
    """Judge each course on ``face`` at both resolutions: resolution -> judgements."""
    out: dict[str, list[CourseJudgement]] = {res: [] for res in RESOLUTIONS}
    for course in courses:
        photos = course_photos(az, course, face=face, melanin=melanin, seed=seed)
        for res in RESOLUTIONS:
            out[res].append(judge_course(course, photos[res], res))
    return out
