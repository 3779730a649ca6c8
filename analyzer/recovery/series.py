"""analyze_series: analysed photos + a treatment (+ a symptom diary) -> the recovery course.

Steps: drop photos that failed or lack a capture time (reported in ``skipped``) and exact
duplicates; order by capture time; give every photo its prior noise (:mod:`.noise`); measure
the series' own noise around the expected course's shape and give every photo its sd from it
(:func:`.noise.series_noise`); take the baseline from the photos before the treatment (or
estimate it, and say so); fit the patient's peak excess; compare each photo with the expected
course (:mod:`.course`); raise the flags (:mod:`.flags`) and give the verdict
(:mod:`.assessment`), all on those sds; attach the day's aftercare (:mod:`.aftercare`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..result import PhotoResult, round_or_none
from ..settings import DEFAULT, Settings
from ..vocab import SEVERITIES
from .aftercare import aftercare_for
from .assessment import Assessment, assess_course
from .course import ExpectedCourse, fit_peak_excess
from .flags import Flag, course_flags, poor_photo_flags, redness_flags, symptom_flags
from .noise import SeriesNoise, Z, photo_noise, series_noise, smallest_real_change, with_series_noise
from .points import Baseline, Point
from .relative import onto_anchor
from .symptoms import SymptomEntry
from .treatment import Treatment

__all__ = ["SeriesPoint", "SeriesResult", "analyze_series", "build_points", "series_from_points"]

_MEDIAN_EFFICIENCY = 1.2533
"""sd of a median of n normal values is about 1.2533 sd / sqrt(n) for larger n."""

ESTIMATED_NOTE = "No photo was taken before the treatment, so the baseline is estimated from the course."


@dataclass(frozen=True)
class SeriesPoint:
    """A :class:`Point` with its comparison to the expected course (EI) and its aftercare."""

    point: Point
    redness_excess: float
    expected_excess: float
    expected_low: float
    expected_high: float
    aftercare: tuple[str, ...]

    def to_dict(self, baseline: Baseline) -> dict[str, Any]:
        p = self.point
        return {
            "file": p.file,
            "captured_at": p.captured_at.isoformat(),
            "hours": round_or_none(p.hours, 2),
            "redness": round_or_none(p.redness),
            "redness_excess": round_or_none(self.redness_excess),
            "expected_excess": round_or_none(self.expected_excess),
            "expected_low": round_or_none(self.expected_low),
            "expected_high": round_or_none(self.expected_high),
            "noise": round_or_none(p.redness_sd),
            "melanin": round_or_none(p.melanin, 4),
            "texture": round_or_none(p.texture),
            "flaking": round_or_none(p.flaking),
            "quality_ok": p.quality_ok,
            "quality_issues": [c for c, _ in p.quality_issues],
            "noise_melanin": round_or_none(p.melanin_sd, 4),
            "noise_flaking": round_or_none(p.flaking_sd),
            "melanin_change": round_or_none(p.melanin - baseline.melanin, 4),
            "texture_change": round_or_none(p.texture - baseline.texture),
            "flaking_change": round_or_none(p.flaking - baseline.flaking),
            "aftercare": list(self.aftercare),
            "light": p.light,
            "light_shift": round_or_none(p.light_shift_ei),
        }


@dataclass(frozen=True)
class SeriesResult:
    """The recovery course of one treatment.  ``to_dict()`` is the ``series --json`` contract."""

    treatment: Treatment
    course: ExpectedCourse
    baseline: Baseline | None
    points: tuple[SeriesPoint, ...]
    flags: tuple[Flag, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """(file, reason) of photos left out."""
    smallest_real_change: float | None = None
    """EI: ``2 sqrt(2)`` x the median redness sd of the photos."""
    notes: tuple[str, ...] = field(default=())
    assessment: Assessment | None = None
    """The verdict: as expected, needs attention or inconclusive (:mod:`.assessment`)."""
    noise: SeriesNoise | None = None
    """The series' own noise pooled with the prior, which set the photos' sds (:mod:`.noise`)."""

    @property
    def baseline_estimated(self) -> bool:
        return self.baseline is not None and self.baseline.estimated

    def to_dict(self) -> dict[str, Any]:
        b = self.baseline

        def bdict(b: Baseline) -> dict[str, Any]:
            return {
                "redness": round_or_none(b.redness), "melanin": round_or_none(b.melanin, 4), "texture": round_or_none(b.texture),
                "flaking": round_or_none(b.flaking), "photos": list(b.photos), "method": b.method,
                "noise": round_or_none(b.redness_sd),
            }

        return {
            "treated_at": self.treatment.treated_at.isoformat(),
            "needle_depth_mm": self.treatment.needle_depth_mm,
            "protocol": self.treatment.protocol,
            "areas": list(self.treatment.areas),
            "baseline": bdict(b) if b is not None and not b.estimated else None,
            "baseline_estimated": self.baseline_estimated,
            "estimated_baseline": bdict(b) if b is not None and b.estimated else None,
            "expected_course": {
                "peak_excess": round_or_none(self.course.peak_excess_ei),
                "peak_source": self.course.peak_source,
                "half_life_h": round_or_none(self.course.half_life_h, 2),
                "half_life_low_h": round_or_none(self.course.half_life_low_h, 2),
                "half_life_high_h": round_or_none(self.course.half_life_high_h, 2),
            },
            "smallest_real_change": round_or_none(self.smallest_real_change),
            "points": [sp.to_dict(b) for sp in self.points] if b is not None else [],
            "flags": [f.to_dict() for f in self.flags],
            "assessment": self.assessment.to_dict() if self.assessment is not None else None,
            "noise": self.noise.to_dict() if self.noise is not None else None,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "notes": list(self.notes),
        }


def build_points(
    results: Sequence[PhotoResult], treatment: Treatment, settings: Settings = DEFAULT
) -> tuple[list[Point], list[tuple[str, str]]]:
    """Usable photos as :class:`Point` in time order, and the (file, reason) of the others."""
    skipped: list[tuple[str, str]] = []
    usable = []
    seen = set()
    for r in results:
        if not r.ok or r.face is None:
            skipped.append((r.file, r.error or "could not be analysed"))
            continue
        if r.captured_at is None:
            skipped.append((r.file, (
                "has no capture time (no EXIF date and no date in the file name); "
                "give it with --date FILE=YYYY-MM-DDTHH:MM"
            )))
            continue
        key = (r.file, r.captured_at)
        if key in seen:
            skipped.append((r.file, "duplicate: the same photo was given twice"))
            continue
        seen.add(key)
        usable.append(r)
    usable.sort(key=lambda r: treatment.hours_since(r.captured_at))
    hours = [treatment.hours_since(r.captured_at) for r in usable]
    noises = [photo_noise(r, settings) for r in usable]  # the prior; the series sets the rest

    points = []
    for r, h, n in zip(usable, hours, noises):
        f = r.face
        points.append(Point(
            file=r.file, captured_at=r.captured_at, hours=h,
            redness=f.redness, melanin=f.melanin, texture=f.texture, flaking=f.flaking,
            redness_sd=n.redness, melanin_sd=n.melanin,
            texture_sd=n.texture, flaking_sd=n.flaking,
            quality_ok=r.quality.ok,
            quality_issues=tuple((q.code, q.message) for q in r.quality.issues if q.blocking),
            issue_codes=tuple(q.code for q in r.quality.issues),
            scale="chart" if r.calibration is not None and r.calibration.chart_found else "card_free",
            reference=r.light_reference,
        ))
    return points, skipped


def _on_one_scale(points: list[Point]) -> tuple[list[Point], str | None]:
    """The points with ``same_scale`` set, and the course's scale (None if only one is seen): the
    scale of most reliable photos before the treatment (else after it; a tie goes to the chart).
    Photos on the other scale are left out of the redness and pigment checks unless
    :func:`.relative.onto_anchor` maps them onto the course's light."""
    pre = [p.scale for p in points if p.hours < 0 and p.light_ok]
    seen = [p.scale for p in points if p.light_ok]
    pool = pre or seen
    if len(set(seen)) < 2:
        return points, None
    scale = "chart" if pool.count("chart") >= pool.count("card_free") else "card_free"
    return [p if p.scale == scale else replace(p, same_scale=False) for p in points], scale


def _scale_note(points: list[Point], scale: str | None) -> str | None:
    """What the series says of the photos left on another scale than the course's."""
    other = sum(not p.same_scale and p.light_ok for p in points)
    if scale is None or not other:
        return None
    with_card = "with the colour card" if scale == "card_free" else "without the colour card"
    base = "the photos before the treatment" if any(p.hours < 0 for p in points) else "most photos"
    return (f"{other} photo{'s were' if other != 1 else ' was'} taken {with_card}, unlike {base}: "
            "redness and pigment with and without the card are on different scales, so "
            f"{'they are' if other != 1 else 'it is'} left out of the redness and pigment checks. "
            "Take every photo the same way: always with the card, or always without it.")


def _median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def _measured_baseline(pre: Sequence[Point]) -> Baseline:
    good = [p for p in pre if p.colour_ok] or [p for p in pre if p.quality_ok] or list(pre)
    n = len(good)
    k = (_MEDIAN_EFFICIENCY if n >= 3 else 1.0) / math.sqrt(n)
    return Baseline(
        redness=_median([p.redness for p in good]),
        melanin=_median([p.melanin for p in good]),
        texture=_median([p.texture for p in good]),
        flaking=_median([p.flaking for p in good]),
        redness_sd=_median([p.redness_sd for p in good]) * k,
        melanin_sd=_median([p.melanin_sd for p in good]) * k,
        texture_sd=_median([p.texture_sd for p in good]) * k,
        flaking_sd=_median([p.flaking_sd for p in good]) * k,
        photos=tuple(p.file for p in good),
        estimated=False,
        method=f"median of {n} photo{'s' if n != 1 else ''} before treatment",
    )


def _estimated_baseline(post: Sequence[Point], treatment: Treatment) -> Baseline:
    """Baseline from the course itself (no photo before treatment).

    Redness: least-squares fit of ``R(t) = B + E0 * 2^(-t/t_half)`` with the protocol's
    half-life (B from the late photos when E0 would come out negative or there is one photo:
    then ``B = R - E0_default * 2^(-t/t_half)`` on the latest photo).  Melanin: median of the
    photos up to the darkening mark (flat by then); texture and flaking: median of the photos
    in the first 48 h (before dryness and peeling); the lowest value when there is none.
    """
    proto = treatment.curve
    t_half = proto.half_life_for_depth(treatment.needle_depth_mm)
    good = [p for p in post if p.colour_ok] or [p for p in post if p.quality_ok] or list(post)
    g = [2.0 ** (-max(p.hours, 0) / t_half) for p in good]
    y = [p.redness for p in good]
    b = None
    method = "estimated: fit of baseline + expected curve to the photos"
    if len(good) >= 2 and (max(g) - min(g)) > 0.05:
        gm, ym = statistics.fmean(g), statistics.fmean(y)
        sxx = sum((gi - gm) ** 2 for gi in g)
        e0 = sum((gi - gm) * (yi - ym) for gi, yi in zip(g, y)) / sxx
        if e0 > 0:
            b = ym - e0 * gm
    if b is None:
        last = good[-1]
        b = last.redness - proto.default_peak_excess_ei * 2.0 ** (-max(last.hours, 0) / t_half)
        method = "estimated: latest photo less the expected excess (protocol default peak)"

    def early(attr: str, until_h: float) -> float:
        vals = [getattr(p, attr) for p in good if p.hours <= until_h]
        return _median(vals) if vals else min(getattr(p, attr) for p in good)

    sd = lambda attr: _median([getattr(p, attr) for p in good])
    return Baseline(
        redness=b,
        melanin=early("melanin", proto.darkening_after_h),
        texture=early("texture", 48.0),
        flaking=early("flaking", 48.0),
        redness_sd=sd("redness_sd"), melanin_sd=sd("melanin_sd"),
        texture_sd=sd("texture_sd"), flaking_sd=sd("flaking_sd"),
        photos=(), estimated=True, method=method,
        notes=(ESTIMATED_NOTE,),
    )


def series_from_points(
    points: Sequence[Point],
    treatment: Treatment,
    symptoms: Sequence[SymptomEntry] = (),
    skipped: Sequence[tuple[str, str]] = (),
) -> SeriesResult:
    """The course from ready :class:`Point` numbers (what :func:`analyze_series` calls; tests
    use it directly with made-up numbers)."""
    proto = treatment.curve
    points = sorted(points, key=lambda p: p.hours)
    notes: list[str] = []
    points, scale = _on_one_scale(points)
    points, light_note = onto_anchor(points)
    notes += [n for n in (_scale_note(points, scale), light_note) if n]
    t_half = proto.half_life_for_depth(treatment.needle_depth_mm)
    noise = series_noise(points, t_half)  # the series' own noise sets every sd used below
    points = with_series_noise(points, noise)
    pre = [p for p in points if p.hours < 0]
    post = [p for p in points if p.hours >= 0]
    if pre:
        baseline: Baseline | None = _measured_baseline(pre)
    elif post:
        baseline = _estimated_baseline(post, treatment)
        notes.append(ESTIMATED_NOTE)
    else:
        baseline = None

    e0 = None
    if baseline is not None:
        e0 = fit_peak_excess(
            [(p.hours, p.redness - baseline.redness, math.hypot(p.redness_sd, baseline.redness_sd))
             for p in post if p.colour_ok],
            t_half, proto.peak_fit_window_h,
        )
    course = ExpectedCourse.for_treatment(proto, treatment.needle_depth_mm, e0)
    if course.peak_source == "protocol_default":
        notes.append(
            f"No reliable photo in the first {proto.peak_fit_window_h:g} h, so the expected curve "
            f"starts from the protocol's typical peak ({course.peak_excess_ei:g} above baseline)."
        )

    spoints: list[SeriesPoint] = []
    flags: list[Flag] = poor_photo_flags(points)
    if baseline is not None:
        for p in points:
            sd = math.hypot(p.redness_sd, baseline.redness_sd)
            lo, hi = course.band(p.hours)
            spoints.append(SeriesPoint(
                point=p,
                redness_excess=p.redness - baseline.redness,
                expected_excess=course.at(p.hours),
                expected_low=lo - Z * sd,
                expected_high=hi + Z * sd,
                aftercare=tuple(a.text for a in aftercare_for(p.hours)),
            ))
        flags += redness_flags(points, baseline, course, proto)
        flags += course_flags(points, baseline, proto)
    flags += symptom_flags(symptoms, treatment, points)
    if baseline is not None and baseline.estimated:
        flags = [
            Flag(f.code, f.severity, f.hours, f"{f.message} (Compared with an estimated baseline: "
                 "no photo was taken before the treatment.)", f.file)
            if f.code != "poor_photo" and not f.code.startswith(("symptom", "itching")) else f
            for f in flags
        ]
    flags.sort(key=lambda f: (f.hours, -SEVERITIES.index(f.severity), f.code))
    sds = [p.redness_sd for p in points if p.quality_ok] or [p.redness_sd for p in points]
    src = smallest_real_change(_median(sds)) if sds else None
    assessment = assess_course(points, baseline, course, proto, flags)
    return SeriesResult(
        treatment=treatment, course=course, baseline=baseline, points=tuple(spoints),
        flags=tuple(flags), skipped=tuple(skipped), smallest_real_change=src, notes=tuple(notes),
        assessment=assessment, noise=noise,
    )


def analyze_series(
    results: Sequence[PhotoResult],
    treatment: Treatment,
    symptoms: Sequence[SymptomEntry] = (),
    settings: Settings = DEFAULT,
) -> SeriesResult:
    """The recovery course from analysed photos.

    Parameters
    ----------
    results : sequence of PhotoResult
        In any order; failed ones and ones without a capture time are reported in ``skipped``.
    treatment : Treatment
        When, how deep, which protocol.
    symptoms : sequence of SymptomEntry
        The diary (:func:`analyzer.recovery.symptoms.read_symptoms`).
    settings : Settings
        For the measured noise figures.

    Returns
    -------
    SeriesResult
        ``points`` is empty (and ``baseline`` None) when no photo was usable.
    """
    points, skipped = build_points(results, treatment, settings)
    return series_from_points(points, treatment, symptoms, skipped)
