"""Patients, treatments, symptoms, consent and deletion (see docs/store.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..recovery.symptoms import SymptomEntry as DiaryEntry
from ..recovery.treatment import Treatment as TreatmentSpec
from .db import Store, StoreError
from .models import CONSENT_KINDS, Consent, Patient, Photo, SymptomEntry, Treatment

__all__ = [
    "PSEUDONYM_RE",
    "DeleteSummary",
    "InTransaction",
    "add_symptoms",
    "add_treatment",
    "check_pseudonym",
    "create_new_patient",
    "delete_patient",
    "delete_photo",
    "find_patient",
    "get_or_create_patient",
    "has_consent",
    "has_research_consent",
    "require_patient",
    "set_consent",
    "wall_clock",
]

PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A pseudonym: 1-64 letters, digits, ``_``, ``.``, ``-`` (no spaces, so no real names)."""


def now() -> datetime:
    """The current UTC time, naive (how the store keeps import and export times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def wall_clock(dt: datetime | None) -> tuple[datetime | None, int | None]:
    """``dt`` as a naive wall-clock time and its UTC offset in minutes (None when naive)."""
    if dt is None:
        return None, None
    off = dt.utcoffset()
    return dt.replace(tzinfo=None), (None if off is None else int(off.total_seconds() // 60))


InTransaction = Callable[[Session], None]
"""A step run inside a change's own transaction, just before it commits (the use cases write
their audit line this way, so a change and its audit line are committed together or not at all)."""

_SEPARATOR = re.compile(r"[-._]")
_YEAR = range(1900, 2100)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return year in _YEAR


def _date_groups(a: str, b: str, c: str) -> bool:
    """Three digit groups read as a date with a 4-digit year: Y-M-D, D-M-Y or M-D-Y."""
    x, y, z = int(a), int(b), int(c)
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return _is_date(x, y, z)
    if len(c) == 4 and len(a) <= 2 and len(b) <= 2:
        return _is_date(z, y, x) or _is_date(z, x, y)
    return False


def _looks_personal(pseudonym: str) -> str | None:
    """Why a pseudonym looks like a name or a date (None when it does not); see
    :func:`check_pseudonym` for the rules."""
    for run in re.findall(r"\d+", pseudonym):
        if len(run) == 8 and (_is_date(int(run[:4]), int(run[4:6]), int(run[6:]))
                              or _is_date(int(run[4:]), int(run[2:4]), int(run[:2]))):
            return "looks like a date"
    for m in re.finditer(r"(?=(?<!\d)(\d{1,4})[-._](\d{1,2})[-._](\d{1,4})(?!\d))", pseudonym):
        if _date_groups(*m.groups()):
            return "looks like a date"
    tokens = _SEPARATOR.split(pseudonym)
    if any(t.isdigit() and len(t) == 4 and int(t) in _YEAR for t in tokens) and any(
            sum(ch.isalpha() for ch in t) >= 2 for t in tokens):
        return "looks like a name or a birth year"
    for a, b in pairwise(tokens):
        if not (a.isalpha() and b.isalpha() and len(a) >= 2 and len(b) >= 2):
            continue
        capitalised = all(w[0].isupper() and any(ch.islower() for ch in w[1:]) for w in (a, b))
        lower = all(w.islower() and len(w) >= 3 for w in (a, b))
        if capitalised or lower:
            return "looks like a name"
    return None


def check_pseudonym(pseudonym: str) -> str:
    """``pseudonym`` when it is one; :class:`StoreError` naming the fix otherwise.

    The one owner of what a pseudonym may be: 1-64 letters, digits, ``_``, ``.`` or ``-``
    (:data:`PSEUDONYM_RE`: no spaces), and nothing that looks like a name or a date:

    * an 8-digit run that is a calendar date with a year 1900-2099, read as YYYYMMDD or
      DDMMYYYY (``19850302``, ``P02031985``);
    * three digit groups joined by ``-``, ``.`` or ``_`` that are a calendar date with a 4-digit
      year 1900-2099, read as Y-M-D, D-M-Y or M-D-Y (``1985-03-02``, ``02.03.1985``);
    * a 4-digit group 1900-2099 on its own between separators when another group has two or
      more letters (``Jane.Doe-1985``, ``smith_1985``; ``P-1985`` passes);
    * two neighbouring groups of letters only, 2+ letters each, both capitalised (``Jane.Doe``)
      or both lowercase words of 3+ letters (``john_smith``).

    Codes such as ``P0012``, ``DEMO-1``, ``P-ANN``, ``P-BROWSER`` or ``S01-007`` pass.  These
    rules catch the common slips, not every name: a pseudonym is the clinic's code, never
    derived from the person.
    """
    if not isinstance(pseudonym, str) or not PSEUDONYM_RE.match(pseudonym):
        raise StoreError(
            f"patient {pseudonym!r}",
            "not a valid pseudonym",
            "use 1-64 letters, digits, '_', '.' or '-', e.g. P0012 (never the patient's name)",
        )
    why = _looks_personal(pseudonym)
    if why is not None:
        raise StoreError(f"patient {pseudonym!r}", f"not a valid pseudonym: it {why}",
                         "use a code such as P0012, never a name or a birth date")
    return pseudonym


_check_pseudonym = check_pseudonym


def find_patient(session: Session, pseudonym: str) -> Patient | None:
    """The patient with this pseudonym, or None."""
    return session.scalar(select(Patient).where(Patient.pseudonym == pseudonym))


def get_or_create_patient(session: Session, pseudonym: str, display_name: str | None = None) -> Patient:
    """The patient with this pseudonym, created if new; ``display_name`` is set when given."""
    patient = find_patient(session, check_pseudonym(pseudonym))
    if patient is None:
        patient = Patient(pseudonym=pseudonym, display_name=display_name, created_at=now())
        session.add(patient)
        session.flush()
    elif display_name is not None and display_name != patient.display_name:
        patient.display_name = display_name
    return patient


def create_new_patient(session: Session, pseudonym: str, display_name: str | None = None) -> Patient:
    """A new patient; :class:`StoreError` when the pseudonym is taken (never a silent rename of
    the patient who has it)."""
    if find_patient(session, check_pseudonym(pseudonym)) is not None:
        raise StoreError(
            f"patient {pseudonym!r}",
            "a patient with this pseudonym already exists",
            "choose another pseudonym, or select that patient in the list",
        )
    return get_or_create_patient(session, pseudonym, display_name)


def require_patient(session: Session, pseudonym: str) -> Patient:
    """The patient with this pseudonym; :class:`StoreError` naming the fix when there is none."""
    patient = find_patient(session, pseudonym)
    if patient is None:
        raise StoreError(f"patient {pseudonym!r}", "no such patient in the store",
                         "check the pseudonym, or import a photo for the patient first")
    return patient


def add_treatment(store: Store, pseudonym: str, treatment: TreatmentSpec, *,
                  also: InTransaction | None = None) -> int:
    """Record a treatment (idempotent: the same patient and time is recorded once); returns
    its id.  The patient is created if new; ``also`` runs in the same transaction."""
    treated_at, offset = wall_clock(treatment.treated_at)
    with store.sessions.begin() as s:
        patient = get_or_create_patient(s, pseudonym)
        row = s.scalar(select(Treatment).where(Treatment.patient_id == patient.id, Treatment.treated_at == treated_at))
        if row is None:
            row = Treatment(patient_id=patient.id, treated_at=treated_at)
            s.add(row)
        row.utc_offset_min = offset
        row.needle_depth_mm = float(treatment.needle_depth_mm)
        row.areas = list(treatment.areas)
        row.protocol = treatment.protocol
        s.flush()
        if also is not None:
            also(s)
        return row.id


def add_symptoms(store: Store, pseudonym: str, entries: Iterable[DiaryEntry], *,
                 also: InTransaction | None = None) -> int:
    """Add diary entries (an entry already present with the same time, symptom and level is
    skipped); returns how many were added.  ``also`` runs in the same transaction when any was."""
    added = 0
    with store.sessions.begin() as s:
        patient = get_or_create_patient(s, pseudonym)
        have = {(e.at, e.symptom, e.level) for e in patient.symptoms}
        for e in entries:
            key = (wall_clock(e.when)[0], e.symptom, int(e.level))
            if key in have:
                continue
            have.add(key)
            s.add(SymptomEntry(patient_id=patient.id, at=key[0], symptom=key[1], level=key[2]))
            added += 1
        if added and also is not None:
            also(s)
    return added


def set_consent(
    store: Store,
    pseudonym: str,
    kind: str,
    *,
    given_at: datetime | None = None,
    withdrawn_at: datetime | None = None,
    text_version: str | None = None,
    recorded_by: str | None = None,
    withdrawn_by: str | None = None,
    also: InTransaction | None = None,
) -> bool:
    """Record that ``kind`` consent (``"care"`` or ``"research"``) was given, or withdrawn.

    With ``withdrawn_at`` the open consent of that kind is closed (``withdrawn_by`` says who
    recorded the withdrawal; the patient must exist); otherwise a new consent is opened (unless
    one is already open) with the version of the text consented to and who recorded it, the
    patient created if new.  ``also`` runs in the same transaction when something changed.

    Returns
    -------
    bool
        True when a consent was opened or closed; False when there was nothing to do.
    """
    if kind not in CONSENT_KINDS:
        raise StoreError(f"consent {kind!r}", "unknown kind of consent", f"use one of {', '.join(CONSENT_KINDS)}")
    with store.sessions.begin() as s:
        if withdrawn_at is not None:
            patient = require_patient(s, pseudonym)
        else:
            patient = get_or_create_patient(s, pseudonym)
        open_ = [c for c in patient.consents if c.kind == kind and c.withdrawn_at is None]
        if withdrawn_at is not None:
            for c in open_:
                c.withdrawn_at = wall_clock(withdrawn_at)[0]
                c.withdrawn_by = withdrawn_by
            changed = bool(open_)
        elif not open_:
            s.add(Consent(patient_id=patient.id, kind=kind, given_at=wall_clock(given_at)[0] or now(),
                          text_version=text_version, recorded_by=recorded_by))
            changed = True
        else:
            changed = False
        if changed and also is not None:
            s.flush()
            also(s)
    return changed


def has_consent(patient: Patient, scope: str) -> bool:
    """True when the patient has an open (not withdrawn) consent of this scope."""
    return any(c.kind == scope and c.withdrawn_at is None for c in patient.consents)


def has_research_consent(patient: Patient) -> bool:
    """True when the patient has an open (not withdrawn) research consent."""
    return has_consent(patient, "research")


@dataclass(frozen=True)
class DeleteSummary:
    """What a deletion removed: photo rows and stored files."""

    photos: int
    files: tuple[str, ...]


def _unreferenced(s: Session, paths: Sequence[str]) -> list[str]:
    # Two patients may hold the same photo bytes: keep the file while a row still uses it.
    return [
        rel for rel in sorted(set(paths))
        if not s.scalar(select(func.count()).select_from(Photo).where(Photo.stored_path == rel))
    ]


def _remove_files(store: Store, paths: Sequence[str]) -> tuple[str, ...]:
    removed = []
    for rel in paths:
        try:
            os.remove(store.data_dir / rel)
            removed.append(rel)
        except FileNotFoundError:
            pass
    return tuple(removed)


def delete_photo(store: Store, sha256: str, *, pseudonym: str | None = None,
                 also: Callable[[Session, Sequence[str]], None] | None = None) -> DeleteSummary:
    """Delete a photo (of one patient, or of every patient holding it): its rows (analyses,
    observations) and its stored copy.  ``also`` runs in the same transaction, with the
    pseudonyms of the patients whose photo it was.

    Raises
    ------
    StoreError
        When no such photo is stored.
    """
    with store.sessions.begin() as s:
        q = select(Photo).where(Photo.sha256 == sha256.lower())
        if pseudonym is not None:
            q = q.where(Photo.patient_id == require_patient(s, pseudonym).id)
        photos = list(s.scalars(q))
        if not photos:
            raise StoreError(f"photo {sha256}", "no such photo in the store",
                             "give the SHA-256 of the original file as the export or import showed it")
        paths = [p.stored_path for p in photos]
        holders = sorted({p.patient.pseudonym for p in photos})
        for p in photos:
            s.delete(p)
        s.flush()
        unused = _unreferenced(s, paths)
        if also is not None:
            also(s, holders)
    # Files go after the rows are committed; a crash in between leaves an orphan file, which
    # is harmless (a re-import reuses it).
    return DeleteSummary(photos=len(photos), files=_remove_files(store, unused))


def delete_patient(store: Store, pseudonym: str, *,
                   also: Callable[[Session, int], None] | None = None) -> DeleteSummary:
    """Delete a patient and everything about them: photos, stored copies, analyses,
    treatments, symptoms, consents and import failures (``also`` runs in the same transaction,
    with the number of photos deleted).

    Raises
    ------
    StoreError
        When no such patient is stored.
    """
    with store.sessions.begin() as s:
        patient = require_patient(s, pseudonym)
        paths = [p.stored_path for p in patient.photos]
        n = len(paths)
        s.delete(patient)
        s.flush()
        unused = _unreferenced(s, paths)
        if also is not None:
            also(s, n)
    return DeleteSummary(photos=n, files=_remove_files(store, unused))
