"""A patient's record: listing, creating, treatments, diary, photos, capture times and deletion.

Every use case here takes the acting user, checks it first (:func:`analyzer.service.access.check`:
a refusal raises :class:`~analyzer.service.access.PermissionDenied` and is audited) and writes
its audit line: a change in the same transaction as the change itself, a view once per
:data:`analyzer.service.audit.VIEW_COALESCE_S`.  The store functions underneath
(:mod:`analyzer.store.records`, :mod:`analyzer.store.query`) check nobody; the dashboard and the
command line call these.

======================  ==================  =======================================================
use case                action checked      audit line
======================  ==================  =======================================================
visible_patients        (not researcher)    none (a list of names is not a record view)
create_patient          patient.create      ``patient.create``
add_treatment           record.change       ``record.change`` {"what": "treatment"}
add_symptoms            record.change       ``record.change`` {"what": "diary", "given": n}
set_capture_time        record.change       ``record.change`` {"what": "capture_time"}
treatments, symptoms,   record.view         ``record.view``
stored_photos,
photo_path
delete_patient          patient.delete      ``patient.delete`` {"photos": n}
delete_photo            patient.delete      ``photo.delete`` {"sha256": first 12 digits}
sweep_orphans           patient.delete      ``files.sweep`` {"files": n}
======================  ==================  =======================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..recovery.symptoms import SymptomEntry as DiaryEntry
from ..recovery.treatment import Treatment
from ..store import query, records
from ..store.db import Store
from ..store.models import Assignment, Photo
from ..store.photos import orphan_files
from ..store.query import PatientInfo, StoredPhoto
from ..store.records import DeleteSummary
from . import audit
from .access import ACTIONS, Actor, PermissionDenied, check, reach

__all__ = [
    "add_symptoms",
    "add_treatment",
    "create_patient",
    "delete_patient",
    "delete_photo",
    "ensure_patient",
    "photo_path",
    "set_capture_time",
    "stored_photos",
    "sweep_orphans",
    "symptoms",
    "treatments",
    "visible_patients",
]

def _log(store: Store, actor: Actor, action: str, patient: str | None, **detail):
    """An :data:`~analyzer.store.records.InTransaction` step writing one audit line."""
    def step(s: Session) -> None:
        audit.record(store, actor, action, patient=patient, detail=detail or None, session=s)
    return step


def visible_patients(store: Store, *, actor: Actor) -> list[PatientInfo]:
    """The patients whose records ``actor`` may open, by pseudonym: every patient for an admin,
    a practitioner's caseload, a patient's own record.

    Raises
    ------
    PermissionDenied
        For a researcher (no record views; the de-identified export is theirs).
    """
    if actor.role not in ACTIONS["record.view"][0]:
        check(store, actor, "record.view")  # audits the refusal and raises
    return query.list_patients(store, reach(store, actor))


def create_patient(store: Store, pseudonym: str, display_name: str | None = None, *, actor: Actor) -> None:
    """Create a new patient (never a rename of an existing one: a taken pseudonym is refused).
    A practitioner's new patient joins their caseload in the same transaction.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may create patients (practitioner, admin).
    StoreError
        For a taken or bad pseudonym (:func:`analyzer.store.records.check_pseudonym`).
    """
    check(store, actor, "patient.create")
    with store.sessions.begin() as s:
        patient = records.create_new_patient(s, pseudonym, display_name)
        if actor.role == "practitioner" and actor.user_id is not None:
            s.add(Assignment(user_id=actor.user_id, patient_id=patient.id))
        audit.record(store, actor, "patient.create", patient=pseudonym, session=s)


def ensure_patient(store: Store, pseudonym: str, display_name: str | None = None, *, actor: Actor) -> bool:
    """The patient, created if new (:func:`create_patient`) or given ``display_name`` when it
    differs (a ``record.change``); what ``import --patient ID --name NAME`` does first.

    Returns
    -------
    bool
        True when the patient was created.
    """
    with store.sessions() as s:
        existing = records.find_patient(s, pseudonym)
        same_name = existing is not None and (display_name is None or existing.display_name == display_name)
    if existing is None:
        create_patient(store, pseudonym, display_name, actor=actor)
        return True
    check(store, actor, "record.change", pseudonym)
    if not same_name:
        with store.sessions.begin() as s:
            records.get_or_create_patient(s, pseudonym, display_name)
            audit.record(store, actor, "record.change", patient=pseudonym, session=s, detail={"what": "name"})
    return False


def add_treatment(store: Store, pseudonym: str, treatment: Treatment, *, actor: Actor) -> int:
    """Record a treatment (:func:`analyzer.store.records.add_treatment`); returns its id.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may change the patient's record.
    """
    check(store, actor, "record.change", pseudonym)
    return records.add_treatment(store, pseudonym, treatment,
                                 also=_log(store, actor, "record.change", pseudonym, what="treatment"))


def add_symptoms(store: Store, pseudonym: str, entries: Iterable[DiaryEntry], *, actor: Actor) -> int:
    """Add diary entries (:func:`analyzer.store.records.add_symptoms`); returns how many were new.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may change the patient's record.
    """
    check(store, actor, "record.change", pseudonym)
    entries = list(entries)
    log = _log(store, actor, "record.change", pseudonym, what="diary", given=len(entries))
    return records.add_symptoms(store, pseudonym, entries, also=log)


def set_capture_time(store: Store, pseudonym: str, sha256: str, when: datetime, *, actor: Actor) -> None:
    """Correct a photo's capture time (:func:`analyzer.store.query.set_capture_time`).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may change the patient's record.
    StoreError
        When the patient has no such photo.
    """
    check(store, actor, "record.change", pseudonym)
    query.set_capture_time(store, pseudonym, sha256, when,
                           also=_log(store, actor, "record.change", pseudonym, what="capture_time"))


def _viewed(store: Store, actor: Actor, pseudonym: str) -> None:
    check(store, actor, "record.view", pseudonym)


def treatments(store: Store, pseudonym: str, *, actor: Actor) -> list[tuple[int, Treatment]]:
    """(id, treatment) of the patient, oldest first (:func:`analyzer.store.query.patient_treatments`)."""
    _viewed(store, actor, pseudonym)
    out = query.patient_treatments(store, pseudonym)
    audit.record(store, actor, "record.view", patient=pseudonym)
    return out


def symptoms(store: Store, pseudonym: str, *, actor: Actor) -> tuple[DiaryEntry, ...]:
    """The patient's symptom diary, oldest first (:func:`analyzer.store.query.patient_symptoms`)."""
    _viewed(store, actor, pseudonym)
    out = query.patient_symptoms(store, pseudonym)
    audit.record(store, actor, "record.view", patient=pseudonym)
    return out


def stored_photos(store: Store, pseudonym: str, *, actor: Actor, region: str = "face") -> list[StoredPhoto]:
    """The patient's analysed photos as results (:func:`analyzer.store.query.stored_results`)."""
    _viewed(store, actor, pseudonym)
    out = query.stored_results(store, pseudonym, region=region)
    audit.record(store, actor, "record.view", patient=pseudonym)
    return out


def photo_path(store: Store, pseudonym: str, stored_path: str, *, actor: Actor) -> Path:
    """The stored copy's file, when ``stored_path`` is one of the patient's photos.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may view the patient's record and a photo of that patient has that
        stored path (the refusal does not say whether the file exists; it is audited).
    """
    _viewed(store, actor, pseudonym)
    with store.sessions() as s:
        p = records.find_patient(s, pseudonym)
        held = p is not None and s.scalar(select(func.count()).select_from(Photo).where(
            Photo.patient_id == p.id, Photo.stored_path == stored_path))
    if not held:
        audit.record(store, actor, "record.view", patient=pseudonym, outcome="denied",
                     detail={"what": "photo"})
        raise PermissionDenied(f"patient {pseudonym}", "no such photo in this record",
                               "open the photo from the patient's page")
    audit.record(store, actor, "record.view", patient=pseudonym)
    return store.data_dir / stored_path


def delete_patient(store: Store, pseudonym: str, *, actor: Actor) -> DeleteSummary:
    """Delete a patient and everything about them (:func:`analyzer.store.records.delete_patient`).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may delete (admin).
    StoreError
        When no such patient is stored.
    """
    check(store, actor, "patient.delete", pseudonym)

    def log(s: Session, photos: int) -> None:
        audit.record(store, actor, "patient.delete", patient=pseudonym, session=s, detail={"photos": photos})

    return records.delete_patient(store, pseudonym, also=log)


def delete_photo(store: Store, sha256: str, *, actor: Actor, pseudonym: str | None = None) -> DeleteSummary:
    """Delete a photo of one patient, or of every patient holding it
    (:func:`analyzer.store.records.delete_photo`); one ``photo.delete`` line per patient.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may delete (admin).
    StoreError
        When no such photo is stored.
    """
    check(store, actor, "patient.delete", pseudonym)

    def log(s: Session, holders) -> None:
        for who in holders:
            audit.record(store, actor, "photo.delete", patient=who, session=s, detail={"sha256": sha256[:12]})

    return records.delete_photo(store, sha256, pseudonym=pseudonym, also=log)


def sweep_orphans(store: Store, *, actor: Actor) -> tuple[str, ...]:
    """Remove the files under ``photos/`` that no photo refers to (left by a crash between the
    file and its row, or by a deletion cut short; :func:`analyzer.store.photos.orphan_files`,
    which leaves out files too fresh to tell from an import in progress); returns their paths
    relative to the data folder (audited ``files.sweep``).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may delete (admin).
    """
    check(store, actor, "patient.delete")
    removed = []
    for rel in orphan_files(store):
        with store.sessions() as s:  # asked again just before: an import may have committed it since
            if s.scalar(select(func.count()).select_from(Photo).where(Photo.stored_path == rel)):
                continue
        try:
            os.remove(store.data_dir / rel)
        except FileNotFoundError:
            continue
        removed.append(rel)
    audit.record(store, actor, "files.sweep", detail={"files": len(removed)})
    return tuple(removed)
