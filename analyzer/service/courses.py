"""Recovery courses read from the store: which photos belong to which treatment, days since the
treatment, the course of one treatment, its typical noise and the latest photo's distance from
the expected curve.

One rule for every reader: the dashboard's course view and triage, the printable report and the
observation export (:mod:`analyzer.service.export`) all call these, so a photo sits in the same
treatment at the same day everywhere.

The course rule
---------------
Treatments are taken oldest first.  A photo belongs to

* the first treatment when it was taken before it (a baseline photo: negative days);
* treatment *k* when it was taken at or after treatment *k* and before treatment *k + 1*;
* treatment *k + 1* instead when it was taken in the last :data:`LATER_BASELINE_H` hours before
  it (and after treatment *k*): the later treatment's baseline, at negative days.

So with treatments on day 0 and day 10, a photo of day 8 is treatment 2's baseline at day -2,
not day +8 of treatment 1; treatment 1's course ends at day 7.  Every dated photo is in exactly
one course.  A photo without a capture time belongs to no treatment (each course lists it as
skipped, with how to fix it; the export leaves its days empty).

Times: :func:`analyzer.recovery.treatment.hours_between` (elapsed time when both times carry a
UTC offset, else wall-clock time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..recovery.flags import Flag
from ..recovery.series import SeriesResult, analyze_series
from ..recovery.treatment import Treatment, hours_between
from ..store.db import Store
from ..store.query import StoredPhoto, patient_symptoms, patient_treatments, stored_results
from ..vocab import severity_rank
from . import audit
from .access import Actor, check

__all__ = [
    "LATER_BASELINE_H",
    "Course",
    "course_index",
    "course_of",
    "days_since",
    "distance_from_expected",
    "flags_most_severe_first",
    "photos_for_treatment",
    "treatment_course",
    "typical_noise_sd",
]

LATER_BASELINE_H = 72.0
"""h.  For a treatment after the first, the photos of the last 72 h before it (and after the
previous one) are its baseline; older ones belong to the previous course (our choice: long
enough for a daily photo or two, short enough to leave the previous peak out)."""


def course_index(when: datetime | None, treated_at: Sequence[datetime]) -> int | None:
    """Which treatment's course a photo taken at ``when`` belongs to (the module's rule): the
    latest treatment *k* whose course has begun, a course beginning just after the previous
    treatment or :data:`LATER_BASELINE_H` hours before its own, whichever is later (the
    first's at the beginning of time).  Every photo with a capture time belongs to exactly one
    course.

    Parameters
    ----------
    when : datetime or None
        The photo's capture time.
    treated_at : sequence of datetime
        The patient's treatment times, oldest first.

    Returns
    -------
    int or None
        Index into ``treated_at``; None without a capture time or a treatment.

    Examples
    --------
    >>> from datetime import datetime as dt
    >>> trs = [dt(2026, 11, 1, 9), dt(2026, 11, 11, 9)]
    >>> [course_index(dt(2026, 11, d, 9), trs) for d in (1, 7, 8, 9, 10, 11, 12)]
    [0, 0, 0, 1, 1, 1, 1]
    >>> course_index(dt(2026, 10, 20, 9), trs), course_index(None, trs), course_index(dt(2026, 11, 5), [])
    (0, None, None)
    """
    if when is None or not treated_at:
        return None
    for k in range(len(treated_at) - 1, 0, -1):
        t = treated_at[k]
        begins = max(hours_between(t, treated_at[k - 1]), -LATER_BASELINE_H)  # h relative to treatment k
        if hours_between(t, when) > begins:
            return k
    return 0


def days_since(when: datetime | None, treated_at: datetime | None) -> float | None:
    """Days from the treatment to the photo (negative before it); None when either is missing.

    >>> from datetime import datetime as dt
    >>> days_since(dt(2026, 11, 9, 9), dt(2026, 11, 11, 9))
    -2.0
    """
    if when is None or treated_at is None:
        return None
    return hours_between(treated_at, when) / 24.0


def photos_for_treatment(photos: Sequence[StoredPhoto], treatments: Sequence[Treatment],
                         k: int) -> list[StoredPhoto]:
    """The photos of treatment ``treatments[k]``'s course, in the given order; photos without a
    capture time are kept too (the series reports them as skipped, with how to fix it)."""
    times = [t.treated_at for t in treatments]
    return [p for p in photos
            if p.result.captured_at is None or course_index(p.result.captured_at, times) == k]


@dataclass(frozen=True)
class Course:
    """One treatment's recovery course, as read from the store.

    Attributes
    ----------
    treatment_id : int
        The treatment's id in the store.
    treatment : Treatment
    region : str
        ``face`` or the region that played the part of the face.
    series : SeriesResult
        The course (:func:`analyzer.recovery.series.analyze_series`).
    photos : tuple of StoredPhoto
        The stored photos given to the series (those of this treatment, and the undated ones).
    """

    treatment_id: int
    treatment: Treatment
    region: str
    series: SeriesResult
    photos: tuple[StoredPhoto, ...]

    def sha256_of(self, file: str) -> str | None:
        """The stored photo's SHA-256 for a file name of the series (None when unknown)."""
        return next((p.sha256 for p in self.photos if p.result.file == file), None)


def treatment_course(store: Store, pseudonym: str, *, actor: Actor, treatment_id: int | None = None,
                     region: str = "face") -> Course | None:
    """The course of one of the patient's treatments, from the stored analyses and diary
    (a view of the patient's record: checked and audited ``record.view``).

    Parameters
    ----------
    store : Store
    pseudonym : str
    actor : Actor
        The acting user.
    treatment_id : int, optional
        Default (or an id the patient does not have): the latest treatment.
    region : str
        ``face`` (area-weighted) or one region (:data:`analyzer.vocab.REGION_KEYS`).

    Returns
    -------
    Course or None
        None when the patient has no treatment.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may view the patient's record.
    StoreError
        For an unknown patient or region.
    """
    check(store, actor, "record.view", pseudonym)
    course = course_of(store, pseudonym, treatment_id=treatment_id, region=region)
    audit.record(store, actor, "record.view", patient=pseudonym)
    return course


def course_of(store: Store, pseudonym: str, *, treatment_id: int | None = None,
              region: str = "face") -> Course | None:
    """:func:`treatment_course` without the access check and audit line, for use cases that
    made their own (triage: ``triage.view`` over the actor's reach)."""
    trs = patient_treatments(store, pseudonym)
    if not trs:
        return None
    k = next((i for i, (tid, _) in enumerate(trs) if tid == treatment_id), len(trs) - 1)
    tid, tr = trs[k]
    photos = photos_for_treatment(stored_results(store, pseudonym, region=region), [t for _, t in trs], k)
    series = analyze_series([p.result for p in photos], tr, patient_symptoms(store, pseudonym))
    return Course(tid, tr, region, series, tuple(photos))


def typical_noise_sd(series: SeriesResult) -> float:
    """EI.  1 sd of a typical (median) photo's redness excess, among the photos reliable for
    redness: that photo's noise and the baseline's, combined (``sqrt(sd_photo**2 +
    sd_baseline**2)``); the baseline's alone when no photo is reliable, 0 without a baseline."""
    sds = sorted(sp.point.redness_sd for sp in series.points if sp.point.colour_ok)
    b = series.baseline.redness_sd if series.baseline is not None else 0.0
    if not sds:
        return b
    return math.hypot(sds[len(sds) // 2], b)


def distance_from_expected(series: SeriesResult) -> tuple[float, float | None]:
    """How far the latest photo after the treatment reliable for redness (quality ok and the light
    corrected: :attr:`~analyzer.recovery.points.Point.colour_ok`) lies from the expected curve.

    Returns
    -------
    z : float
        Signed, in standard deviations of the measurement noise:
        ``(excess - expected) / sqrt(noise_photo**2 + noise_baseline**2)``, where ``excess`` is
        the photo's redness above baseline (erythema index, EI), ``expected`` the expected curve
        at that time (EI) and the noise terms the 1-sd redness noise of the photo and of the
        baseline (EI), i.e. the noise of the excess itself (the same noise the normal range and
        the flags use).  Positive: redder than expected; negative: less red.  ``nan`` when there
        is no good photo taken after the treatment.
    day : float or None
        Days since treatment of that photo (None when there is none).
    """
    good = [sp for sp in series.points if sp.point.colour_ok and sp.point.hours >= 0]
    if not good:
        return math.nan, None
    last = good[-1]
    day = last.point.hours / 24
    b = series.baseline
    sd = math.hypot(last.point.redness_sd, b.redness_sd if b is not None else 0.0)
    if not (sd > 0 and math.isfinite(sd)):
        return math.nan, day
    return (last.redness_excess - last.expected_excess) / sd, day


def flags_most_severe_first(flags: Sequence[Flag]) -> tuple[Flag, ...]:
    """The flags by severity (:func:`analyzer.vocab.severity_rank`), then time; the first is
    the one to act on."""
    return tuple(sorted(flags, key=lambda f: (severity_rank(f.severity), f.hours)))
