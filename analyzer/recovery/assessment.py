"""The verdict of a course: as expected, needs attention, or cannot tell yet, and why.

A wrong reassurance is the worst answer a health tool can give, so "as expected" is said only
when the photos could have shown the anomalies the flags look for.  The rules, in order:

1. **needs_attention** when any flag is a warning or urgent (a flag is raised only for a change
   above the noise, so a noisy photo never raises one by chance).
2. **inconclusive** when any of these holds (every one that holds is a reason):

   ==============================  ============================================================
   reason                          when
   ==============================  ============================================================
   ``no_photo_since_treatment``    no photo taken after the treatment
   ``no_reliable_photo``           no photo after the treatment passed the quality gate
   ``light_not_corrected``         the latest reliable photo has no light correction (no colour
                                   card, the whites of the eyes not usable): redness and
                                   pigment then follow the room's light
   ``too_far``                     the latest reliable photo is too small (``low_resolution``):
                                   the face is too far or the photo was downsized
   ``mixed_calibration``           the latest reliable photo is on another colour scale than the
                                   baseline (with the colour card against without, or the
                                   reverse: 5.6 EI apart on the sample face)
   ``too_noisy``                   the latest reliable photo cannot resolve the smallest redness
                                   the persistent-redness flag looks for:
                                   :attr:`Assessment.detectable_change` >
                                   :attr:`Assessment.needed_change`
   ``no_reliable_photo_in_window`` a day mark a flag checks (72 h for lasting redness, day 5 for
                                   darkening) has passed, but no photo reliable for redness and
                                   pigment (:attr:`Point.colour_ok`) was taken after it
   ``baseline_estimated``          no photo before the treatment: lasting redness or darkening
                                   cannot be told from the patient's own skin
   ==============================  ============================================================

3. **as_expected** otherwise.

``detectable_change`` (EI) is the smallest redness above baseline that the latest reliable photo
can call real: ``Z * sqrt(sd_photo**2 + sd_baseline**2)`` (:mod:`analyzer.recovery.noise`,
Z = 2), on the points' sds as the series set them: the series' own noise pooled with the prior
and each photo's own part (:func:`analyzer.recovery.noise.series_noise`), the same sds the band
and the flags use.  ``needed_change`` (EI) is the smallest excess the persistent-redness flag
looks for: ``persistent_fraction_of_peak`` x the course's peak (0.25 x 5.5 = 1.375 EI by
default).  With the measured card-free prior (0.41 EI) a photo resolves 1.16 EI; with no light
correction (noise x 5) it resolves about 4.2 EI, so such a photo cannot tell lasting redness
apart; nor can a series three times noisier than the prior (about 3.1 EI).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..result import round_or_none
from ..vocab import ASSESSMENT_REASONS, ASSESSMENT_STATUSES
from .course import ExpectedCourse
from .flags import DAY_TOLERANCE_H, Flag
from .noise import Z
from .points import Baseline, Point
from .treatment import Protocol

__all__ = ["ADVICE", "Assessment", "assess_course", "reasons_in_words"]

ADVICE = {  # in the order advice is given
    "no_photo_since_treatment": (
        "Take a photo today, in the same place and light as your first one."),
    "no_reliable_photo": (
        "None of the photos since the treatment could be measured reliably. Take a new one: face "
        "the camera straight, eyes open, in even light, with the whole face in the picture."),
    "too_far": (
        "Your face is too small in the latest photo to measure the skin closely. Hold the phone "
        "closer, so that your face fills most of the picture, and send the original photo, not a "
        "reduced copy."),
    "light_not_corrected": (
        "The colour of the light could not be corrected in your latest photo, so redness and "
        "pigment cannot be compared with earlier days. Put the colour card next to your face, or "
        "take the photo tomorrow facing a window in daylight, looking straight at the camera with"
        " your eyes open."),
    "mixed_calibration": (
        "Your latest photo was taken differently from your first ones (with or without the colour"
        " card), so its redness is on another scale and cannot be compared. Take every photo the "
        "same way as the first one: always with the card, or always without it."),
    "too_noisy": (
        "The latest photo is not steady enough to show a small lasting redness. Take the next "
        "photo in the same place and light as your first one, with the colour card if you have "
        "it."),
    "no_reliable_photo_in_window": (
        "There is no reliable photo from the days that matter most now. Take a photo today, and "
        "one each day for the next days."),
    "baseline_estimated": (
        "There is no photo from before the treatment, so lasting redness or darkening cannot be "
        "told apart from your usual skin. Keep taking a daily photo; your practitioner can judge "
        "the rest at your next visit."),
}
"""What to do for each reason, in plain words (keys: :data:`analyzer.vocab.ASSESSMENT_REASONS`)."""

_CONSEQUENCES = {"too_noisy", "no_reliable_photo_in_window"}
"""Reasons that follow from a cause the patient can fix (a far face, an uncorrected light):
listed, but their advice is left out when a cause is there."""

_CAUSES = {"too_far", "light_not_corrected", "mixed_calibration"}


def reasons_in_words(reasons: Sequence[str]) -> str:
    """Reason codes as plain words for a table or a sentence: ``"too far, light not corrected"``."""
    return ", ".join(r.replace("_", " ") for r in reasons)


def _advice(reasons: Sequence[str]) -> str:
    """What to do: the advice of each reason in :data:`ADVICE` order, the consequences of a
    named cause left out."""
    shown = [r for r in ADVICE if r in reasons and not (r in _CONSEQUENCES and _CAUSES & set(reasons))]
    return " ".join(ADVICE[r] for r in shown)


_HEADLINES = {
    "as_expected": "Your recovery looks as expected so far.",
    "needs_attention": "Something in your recovery needs attention.",
    "inconclusive": "We can't tell yet from these photos.",
}


@dataclass(frozen=True)
class Assessment:
    """The verdict of a course.

    Attributes
    ----------
    status : {"as_expected", "needs_attention", "inconclusive"}
    detectable_change : float or None
        EI.  The smallest redness above baseline the latest reliable photo after the treatment
        can call real; None without such a photo.
    needed_change : float or None
        EI.  The smallest excess the persistent-redness flag looks for; None without a course.
    reasons : tuple of str
        Codes of :data:`analyzer.vocab.ASSESSMENT_REASONS` that make the course inconclusive (they
        are also listed with ``needs_attention``: the flags stand, the rest is still unclear).
    advice : str
        What to do, in plain words: the most severe flag's message when attention is needed,
        else what would resolve each reason.
    headline : str
        One plain sentence for the top of a page.
    hours : float or None
        h since treatment of the latest reliable photo the verdict rests on.
    """

    status: str
    detectable_change: float | None
    needed_change: float | None
    reasons: tuple[str, ...]
    advice: str
    headline: str
    hours: float | None = None

    def __post_init__(self) -> None:
        if self.status not in ASSESSMENT_STATUSES:
            raise ValueError(f"status must be one of {ASSESSMENT_STATUSES}")
        unknown = [r for r in self.reasons if r not in ASSESSMENT_REASONS]
        if unknown:
            raise ValueError(f"unknown reason {unknown[0]!r}; use one of {ASSESSMENT_REASONS}")

    def to_dict(self) -> dict[str, Any]:
        """The ``assessment`` object of ``series --json``."""
        return {
            "status": self.status,
            "detectable_change": round_or_none(self.detectable_change, 2),
            "needed_change": round_or_none(self.needed_change, 2),
            "reasons": list(self.reasons),
            "advice": self.advice,
            "headline": self.headline,
            "hours": round_or_none(self.hours, 1),
        }


def assess_course(
    points: Sequence[Point],
    baseline: Baseline | None,
    course: ExpectedCourse,
    protocol: Protocol,
    flags: Sequence[Flag],
) -> Assessment:
    """The verdict of a course (the module's rules).

    Parameters
    ----------
    points : sequence of Point
        Every photo of the course, in time order (hours since treatment; negative before it).
    baseline : Baseline or None
    course : ExpectedCourse
        Gives the peak the persistent-redness flag measures against.
    protocol : Protocol
        The flag thresholds (day marks, ``persistent_fraction_of_peak``).
    flags : sequence of Flag
        The course's flags.

    Returns
    -------
    Assessment
    """
    reasons: list[str] = []
    after = [p for p in points if p.hours >= 0]
    good = [p for p in after if p.quality_ok]
    peak = course.peak_excess_ei
    needed = protocol.persistent_fraction_of_peak * peak if peak > 0 else None
    detectable = None
    latest = good[-1] if good else None
    if not after:
        reasons.append("no_photo_since_treatment")
    elif latest is None:
        reasons.append("no_reliable_photo")
    else:
        codes = set(latest.issue_codes)
        if not latest.light_ok:  # no own correction, and not mapped through the eyes either
            reasons.append("light_not_corrected")
        if "low_resolution" in codes or "face_too_small" in codes:
            reasons.append("too_far")
        if not latest.same_scale:
            reasons.append("mixed_calibration")
        b_sd = baseline.redness_sd if baseline is not None else 0.0
        detectable = Z * math.hypot(latest.redness_sd, b_sd)
        if needed is not None and detectable > needed:
            reasons.append("too_noisy")
    last_h = max((p.hours for p in after), default=None)
    for mark in (protocol.persistent_warning_h, protocol.darkening_after_h):
        due = mark - DAY_TOLERANCE_H
        reliable_after = any(p.hours >= due and p.colour_ok for p in good)
        if last_h is not None and last_h >= due and not reliable_after:
            if "no_reliable_photo_in_window" not in reasons and latest is not None:
                reasons.append("no_reliable_photo_in_window")
    if baseline is not None and baseline.estimated:
        reasons.append("baseline_estimated")
    reasons = [r for r in ASSESSMENT_REASONS if r in reasons]  # one order everywhere

    acting = [f for f in flags if f.severity in ("warning", "urgent")]
    if acting:
        worst = max(acting, key=lambda f: (f.severity == "urgent", -f.hours))
        status, advice = "needs_attention", worst.message
    elif reasons:
        status, advice = "inconclusive", _advice(reasons)
    else:
        status = "as_expected"
        advice = "Keep to the aftercare and keep taking a daily photo in the same place and light."
    headline = _HEADLINES[status]
    if status == "as_expected" and latest is not None:
        headline = f"Your recovery looks as expected so far (day {latest.hours / 24:.1f})."
    return Assessment(status, detectable, needed, tuple(reasons), advice, headline,
                      latest.hours if latest is not None else None)
