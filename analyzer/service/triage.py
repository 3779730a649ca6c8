"""Triage: the practitioner's patients (an admin's: every patient) in one list, the ones who
need attention first.  Checked ``triage.view`` and audited once per view; a practitioner sees
only their caseload (:func:`analyzer.service.access.reach`).

"Open flag" means a flag of the patient's *latest* treatment's course (face values), as computed
now from the stored analyses (:func:`analyzer.service.courses.treatment_course`); flags of
earlier treatments are history and do not sort the list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ..errors import plain_message
from ..store.db import Store
from ..store.query import PatientInfo, list_patients
from ..vocab import severity_rank
from . import audit, courses
from .access import Actor, check, reach

__all__ = ["TriageRow", "triage", "triage_row"]


@dataclass(frozen=True)
class TriageRow:
    """One patient in the triage list.

    Attributes
    ----------
    pseudonym : str
    name : str or None
        Display name.
    photos : int
        Stored photos.
    last_photo : date or None
        Date of the newest capture time.
    days_since_treatment : float
        Days from the latest treatment to ``now``; nan without a treatment.
    severity : str
        The worst open flag (``urgent``, ``warning``, ``info``), ``none`` (a course without
        flags) or ``not assessed`` (no treatment, no photo, or the course could not be
        computed): one of :data:`analyzer.vocab.TRIAGE_ORDER`.
    flags : tuple of str
        The open flags' codes, most severe first, each once.
    what_to_do : str
        The most severe flag's message; without flags, the verdict's advice when the course
        cannot tell yet ("" otherwise).
    distance : float
        The latest good photo's signed distance from the expected curve, in noise standard
        deviations (:func:`analyzer.service.courses.distance_from_expected`); nan when none.
    status : str
        A short plain sentence: the latest photo's day, or why the patient was not assessed.
    verdict : str
        The course's verdict (:data:`analyzer.vocab.ASSESSMENT_STATUSES`), "" when not assessed.
    cant_tell : tuple of str
        Why the course cannot tell yet (:data:`analyzer.vocab.ASSESSMENT_REASONS`); empty when it
        can.
    """

    pseudonym: str
    name: str | None
    photos: int
    last_photo: date | None
    days_since_treatment: float
    severity: str
    flags: tuple[str, ...]
    what_to_do: str
    distance: float
    status: str
    verdict: str = ""
    cant_tell: tuple[str, ...] = ()

    @property
    def sort_key(self) -> tuple[int, int, float, str]:
        """Most severe first; at the same severity a course that cannot tell yet before one that
        can (it needs a better photo); then the farthest from the expected curve (nan last),
        then by pseudonym."""
        far = abs(self.distance) if math.isfinite(self.distance) else -1.0
        return severity_rank(self.severity), 0 if self.verdict == "inconclusive" else 1, -far, self.pseudonym


_NO_TREATMENT = "No treatment recorded: add the treatment to follow the recovery."


def triage_row(store: Store, info: PatientInfo, now: datetime) -> TriageRow:
    """The triage row of one patient at ``now``; a course that cannot be computed gives a row
    with the reason in ``status``, never an exception."""
    row = dict(pseudonym=info.pseudonym, name=info.display_name, photos=info.photos,
               last_photo=info.last_photo_at.date() if info.last_photo_at is not None else None,
               days_since_treatment=math.nan, severity="not assessed", flags=(), what_to_do="",
               distance=math.nan, status="")
    if info.treatments == 0:
        status = "No photos and no treatment recorded yet." if info.photos == 0 else _NO_TREATMENT
        return TriageRow(**{**row, "status": status})
    try:
        course = courses.course_of(store, info.pseudonym)
    except Exception as e:  # noqa: BLE001 - one patient's problem never hides the others
        return TriageRow(**{**row, "status": f"Could not be assessed: {plain_message(e)}"})
    if course is None:  # the treatment went away between the two reads
        return TriageRow(**{**row, "status": _NO_TREATMENT})
    row["days_since_treatment"] = course.treatment.hours_since(now) / 24
    if info.photos == 0:
        return TriageRow(**{**row, "status": "No photos yet."})
    z, day = courses.distance_from_expected(course.series)
    flags = courses.flags_most_severe_first(course.series.flags)
    a = course.series.assessment
    unclear = a is not None and a.status == "inconclusive"
    row.update(verdict=a.status if a is not None else "", cant_tell=a.reasons if unclear else ())
    row.update(distance=z, severity=flags[0].severity if flags else "none",
               flags=tuple(dict.fromkeys(f.code for f in flags)),
               what_to_do=flags[0].message if flags else (a.advice if unclear else ""),
               status="No usable photo since the treatment yet." if day is None
               else f"Latest usable photo: day {day:.1f}.")
    return TriageRow(**row)


def triage(store: Store, now: datetime | None = None, *, actor: Actor) -> list[TriageRow]:
    """The patients within ``actor``'s reach, the ones who need attention first
    (:attr:`TriageRow.sort_key`).

    Parameters
    ----------
    store : Store
    now : datetime, optional
        The time days since treatment are counted to; default: now (UTC).
    actor : Actor
        A practitioner (their caseload) or an admin (every patient).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may see triage (``triage.view``).
    """
    check(store, actor, "triage.view")
    now = now or datetime.now(UTC)
    infos = list_patients(store, reach(store, actor))
    audit.record(store, actor, "triage.view", detail={"patients": len(infos)})
    return sorted((triage_row(store, info, now) for info in infos), key=lambda r: r.sort_key)
