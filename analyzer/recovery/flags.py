"""Anomaly flags: what a series of numbers says about the healing, with a calm message.

Every rule works on :class:`~analyzer.recovery.points.Point` numbers, never on images.  Codes
are stable (issue #4) and listed once, in :data:`analyzer.vocab.FLAG_CODES`; severities in
:data:`analyzer.vocab.SEVERITIES`.  "Above noise" always means a difference larger than
``Z * sqrt(sd1^2 + sd2^2)`` (:func:`analyzer.recovery.noise.difference_threshold`).

Day marks (72 h, 7 days, ...) allow :data:`DAY_TOLERANCE_H`: a daily photo taken a little
earlier in the day than the treatment still counts as that day's photo.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..vocab import FLAG_CODES, SEVERITIES
from .course import ExpectedCourse
from .noise import Z, difference_threshold
from .points import Baseline, Point
from .symptoms import SymptomEntry
from .treatment import Protocol, Treatment

__all__ = ["DAY_TOLERANCE_H", "Flag", "course_flags", "poor_photo_flags", "redness_flags", "symptom_flags"]

DAY_TOLERANCE_H = 3.0
"""h.  A photo up to this long before a day mark counts as taken at it (our choice: daily
photos at about the treatment's time of day, +/- a few hours)."""


@dataclass(frozen=True)
class Flag:
    """One finding: a stable ``code``, ``severity`` (info, warning, urgent), the ``hours`` since
    treatment it refers to, a plain ``message`` (what it means and what to do), and the
    ``file`` of the photo when there is one."""

    code: str
    severity: str
    hours: float
    message: str
    file: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")
        if self.code not in FLAG_CODES:
            raise ValueError(f"code must be one of {FLAG_CODES}")

    def to_dict(self) -> dict:
        d = {"code": self.code, "severity": self.severity, "hours": round(self.hours, 1), "message": self.message}
        if self.file is not None:
            d["file"] = self.file
        return d


def _day(h: float) -> str:
    return f"day {h / 24:.1f}" if h >= 24 else f"{h:.0f} h"


def _reached(hours: float, mark: float) -> bool:
    return hours >= mark - DAY_TOLERANCE_H


def _good(points: Sequence[Point]) -> list[Point]:
    """Photos after the treatment that passed the quality gate (texture and flaking)."""
    return [p for p in points if p.quality_ok and p.hours >= 0]


def _colour_good(points: Sequence[Point]) -> list[Point]:
    """Photos after the treatment reliable for redness and pigment (:attr:`Point.colour_ok`:
    also the light corrected)."""
    return [p for p in points if p.colour_ok and p.hours >= 0]


def redness_flags(
    points: Sequence[Point], baseline: Baseline, course: ExpectedCourse, protocol: Protocol
) -> list[Flag]:
    """persistent_redness, slow_fading and redness_rebound on the photos reliable for redness."""
    flags: list[Flag] = []
    pts = _colour_good(points)
    peak = course.peak_excess_ei

    # persistent_redness: warning from 72 h, urgent from 7 days.  Redness that had already
    # settled to within noise of baseline (after the first day) and came back is a rebound,
    # not persistence, and is left to redness_rebound.
    warned = urgent = settled = False
    for p in pts:
        excess = p.redness - baseline.redness
        real = excess > difference_threshold(p.redness_sd, baseline.redness_sd)
        big = excess > protocol.persistent_fraction_of_peak * peak
        if _reached(p.hours, protocol.rebound_after_h) and not real:
            settled = True
        if not (real and big) or settled:
            continue
        pct = 100 * excess / peak if peak > 0 else float("nan")
        if _reached(p.hours, protocol.persistent_urgent_h) and not urgent:
            urgent = True
            flags.append(Flag(
                "persistent_redness", "urgent", p.hours,
                f"Redness is still clearly above your baseline at {_day(p.hours)} "
                f"({excess:.1f} above it, {pct:.0f} % of the peak). Redness after "
                "micro-needling normally settles within a week. Please contact your practitioner "
                "so they can have a look.",
                p.file,
            ))
        elif _reached(p.hours, protocol.persistent_warning_h) and not warned and not urgent:
            warned = True
            flags.append(Flag(
                "persistent_redness", "warning", p.hours,
                f"Redness is still above your baseline at {_day(p.hours)} ({excess:.1f} above it, "
                f"{pct:.0f} % of the peak); most of it is usually gone by 72 hours. "
                "Keep to the aftercare, avoid actives and sun, and keep taking daily photos. If it "
                "is still there at one week, or you notice pain, warmth or pus, contact your "
                "practitioner.",
                p.file,
            ))

    # slow_fading: less than the protocol's fraction of the peak gone by 48 h (first photo at
    # or after the mark, within one day of it).
    mark = protocol.slow_fading_at_h
    near = [p for p in pts if _reached(p.hours, mark) and p.hours < mark + 24]
    if near and peak > 0:
        p = near[0]
        excess = p.redness - baseline.redness
        allowed = (1 - protocol.slow_fading_fraction_gone) * peak
        sd = math.hypot(p.redness_sd, baseline.redness_sd)
        if excess - allowed > 2 * sd:
            gone = max(0.0, 100 * (1 - excess / peak))
            flags.append(Flag(
                "slow_fading", "info", p.hours,
                f"Redness is fading more slowly than usual: about {gone:.0f} % of it had gone by "
                f"{_day(p.hours)}, where half or more is typical. This is often fine; keep to the "
                "aftercare and keep taking daily photos so the next days show the trend.",
                p.file,
            ))

    # redness_rebound: a real rise between consecutive reliable photos after 24 h, which is
    # also a real rise above the course: see _above_recent_course.
    for i, (a, b) in enumerate(pairwise(pts)):
        if not _reached(b.hours, protocol.rebound_after_h) or b.hours - a.hours < 1.0:
            continue
        rise = b.redness - a.redness
        if rise > difference_threshold(a.redness_sd, b.redness_sd) and _above_recent_course(
                pts[: i + 1], b, baseline, course):
            flags.append(Flag(
                "redness_rebound", "warning", b.hours,
                f"Redness went up again between {_day(a.hours)} and {_day(b.hours)} (by {rise:.1f}), "
                "after it had been settling. This can come from a product, sun, heat or rubbing, "
                "and rarely from an infection. Stop any actives, keep to gentle care and sun "
                "protection, and take another photo tomorrow. Contact your practitioner if it keeps "
                "rising or comes with pain, warmth, swelling or pus.",
                b.file,
            ))
    return flags


REBOUND_LEVEL_PHOTOS = 3
"""Reliable photos after the treatment whose median residual is the level a rebound must rise
above (our choice: one odd photo cannot be the level)."""


def _above_recent_course(before: Sequence[Point], b: Point, baseline: Baseline, course: ExpectedCourse) -> bool:
    """True when ``b`` stands above what the course explains by more than the noise allows,
    measured from the median of the last :data:`REBOUND_LEVEL_PHOTOS` reliable photos after the
    treatment, each less the expected course (its residual).

    A rise from the photo just before can be that photo's own dip: with about 14 consecutive
    pairs in two weeks, a one-sided 2-sd test on single pairs raises a false rebound on a
    quarter of courses that are pure noise (measured: Coelho's normal course, a dip of -1.0 EI
    at day 10 followed by +0.5 EI).  The residuals remove the course's own fall, so a rebound
    after a fast fade is not hidden by the fade.  The level's sd is that of a median of n photos
    (1.2533 sd / sqrt(n) for n >= 3, sd / sqrt(n) below).
    """
    prev = [p for p in before if p.hours >= 0][-REBOUND_LEVEL_PHOTOS:]
    if not prev:
        return True

    def residual(p: Point) -> float:
        return p.redness - baseline.redness - course.at(p.hours)

    level = statistics.median(residual(p) for p in prev)
    factor = 1.2533 if len(prev) >= 3 else 1.0
    sd_level = statistics.median(p.redness_sd for p in prev) * factor / math.sqrt(len(prev))
    return residual(b) - level > Z * math.hypot(b.redness_sd, sd_level)


def course_flags(points: Sequence[Point], baseline: Baseline, protocol: Protocol) -> list[Flag]:
    """darkening (melanin, on the photos reliable for pigment) and prolonged_peeling (flaking);
    one flag each, at the first photo."""
    flags: list[Flag] = []
    for p in _colour_good(points):
        if p.hours > protocol.darkening_after_h - DAY_TOLERANCE_H:
            rise = p.melanin - baseline.melanin
            if rise > difference_threshold(p.melanin_sd, baseline.melanin_sd):
                flags.append(Flag(
                    "darkening", "warning", p.hours,
                    f"The skin looks darker than before the treatment at {_day(p.hours)} "
                    f"(melanin +{rise:.2f} OD). This can be post-inflammatory darkening, which is "
                    "more common in darker skin and usually fades over weeks to months. Use SPF 30+ "
                    "every day, avoid the sun and irritating products, and mention it to your "
                    "practitioner at your next contact.",
                    p.file,
                ))
                break
    for p in _good(points):
        if _reached(p.hours, protocol.flaking_resolved_by_h):
            rise = p.flaking - baseline.flaking
            if rise > difference_threshold(p.flaking_sd, baseline.flaking_sd):
                flags.append(Flag(
                    "prolonged_peeling", "warning", p.hours,
                    f"The skin is still flaking at {_day(p.hours)} ({p.flaking:.1f} flakes per cm² "
                    f"against {baseline.flaking:.1f} before); peeling usually ends by day 10. Keep "
                    "moisturising, do not pick or scrub, avoid exfoliants and actives, and ask your "
                    "practitioner if it goes on.",
                    p.file,
                ))
                break
    return flags


def poor_photo_flags(points: Sequence[Point]) -> list[Flag]:
    """One info flag per photo whose quality makes its numbers unreliable, with the reasons."""
    out = []
    for p in points:
        if p.quality_ok:
            continue
        reasons = "; ".join(m for _, m in p.quality_issues) or "its quality check failed"
        out.append(Flag(
            "poor_photo", "info", p.hours,
            f"The photo {p.file} is not reliable enough to measure, so it is left out of the "
            f"trend: {reasons}",
            p.file,
        ))
    return out


def symptom_flags(
    entries: Sequence[SymptomEntry], treatment: Treatment, points: Sequence[Point] = ()
) -> list[Flag]:
    """Red flags from the diary (the seed's): pus at any time, pain rising after the first day,
    warmth or swelling from 72 h => urgent; itching while the photos show redness rising, or
    felt redness rising, => warning."""
    flags: list[Flag] = []
    timed = sorted(((treatment.hours_since(e.when), e) for e in entries), key=lambda x: x[0])
    contact = (
        "Please contact your practitioner today; if you feel unwell or have a fever, seek "
        "medical care."
    )
    last: dict[str, int] = {}
    done: set[str] = set()
    for h, e in timed:
        prev = last.get(e.symptom)
        last[e.symptom] = e.level
        if e.level <= 0 or h < 0:
            continue
        reason = None
        if e.symptom == "pus":
            reason = "pus"
        elif e.symptom == "pain" and prev is not None and e.level > prev and h >= 24 - DAY_TOLERANCE_H:
            reason = "pain that is getting worse"
        elif e.symptom in ("warmth", "swelling") and _reached(h, 72):
            reason = f"{e.symptom} after three days"
        if reason and reason not in done:
            done.add(reason)
            flags.append(Flag(
                "symptom_urgent", "urgent", h,
                f"You noted {reason} at {_day(h)}. These can be signs of an infection, which is "
                f"rare but needs to be seen early. {contact}",
            ))
        if e.symptom == "itching" and "itching" not in done and _redness_rising_near(h, points, timed):
            done.add("itching")
            flags.append(Flag(
                "itching_with_redness", "warning", h,
                f"You noted itching at {_day(h)} while redness was going up. Itching alone is common "
                "while skin heals, but with rising redness it can mean irritation, an allergy to a "
                "product or, rarely, an infection. Stop new products and actives, do not scratch, "
                "and contact your practitioner if it does not settle in a day or two.",
            ))
    return flags


def _redness_rising_near(h: float, points: Sequence[Point], timed) -> bool:
    """Whether photos (a rise above the combined 1 sd) or the diary's felt redness rise within
    one day of ``h``."""
    pts = _colour_good(points)
    for a, b in pairwise(pts):
        if abs(b.hours - h) <= 24 and b.redness - a.redness > math.hypot(a.redness_sd, b.redness_sd):
            return True
    felt = [(t, e.level) for t, e in timed if e.symptom == "redness"]
    for (t0, l0), (t1, l1) in pairwise(felt):
        if abs(t1 - h) <= 24 and l1 > l0:
            return True
    return False
