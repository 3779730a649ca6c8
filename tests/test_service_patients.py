"""The record use cases (analyzer.service.patients, courses, triage): each checks the acting user,
refuses the wrong one with an audited ``denied`` line, and audits what it did."""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analyzer.recovery.symptoms import SymptomEntry as DiaryEntry
from analyzer.recovery.treatment import Treatment
from analyzer.service import patients
from analyzer.service.access import PermissionDenied, reach
from analyzer.service.courses import treatment_course
from analyzer.service.imports import import_photos
from analyzer.service.triage import triage
from analyzer.store import StoreError
from analyzer.store.models import AuditEvent, Patient, Photo, SymptomEntry
from analyzer.store.models import Treatment as TreatmentRow
from analyzer.store.records import check_pseudonym

NORMAL = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))
WHEN = datetime(2026, 11, 3, 9)


def audit_rows(store, **where):
    with store.sessions() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return [(e.actor, e.role, e.action, e.patient, e.outcome, e.detail) for e in s.scalars(q)]


def count(store, model, *where):
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# Each use case on P1's record, as a callable of (store, actor).
USE_CASES = {
    "add_treatment": ("record.change", lambda st, a: patients.add_treatment(
        st, "P1", Treatment(WHEN), actor=a)),
    "add_symptoms": ("record.change", lambda st, a: patients.add_symptoms(
        st, "P1", [DiaryEntry(WHEN, "pain", 2)], actor=a)),
    "set_capture_time": ("record.change", lambda st, a: patients.set_capture_time(
        st, "P1", "0" * 64, WHEN, actor=a)),
    "treatments": ("record.view", lambda st, a: patients.treatments(st, "P1", actor=a)),
    "symptoms": ("record.view", lambda st, a: patients.symptoms(st, "P1", actor=a)),
    "stored_photos": ("record.view", lambda st, a: patients.stored_photos(st, "P1", actor=a)),
    "photo_path": ("record.view", lambda st, a: patients.photo_path(st, "P1", "photos/x.jpg", actor=a)),
    "treatment_course": ("record.view", lambda st, a: treatment_course(st, "P1", actor=a)),
    "delete_patient": ("patient.delete", lambda st, a: patients.delete_patient(st, "P1", actor=a)),
    "delete_photo": ("patient.delete", lambda st, a: patients.delete_photo(
        st, "0" * 64, actor=a, pseudonym="P1")),
}


# another patient, a practitioner P1 is not assigned to, a researcher
@pytest.mark.parametrize("who", ["pat2", "dr2", "res"])
@pytest.mark.parametrize("case", sorted(USE_CASES))
def test_the_wrong_user_is_refused_and_the_refusal_audited(clinic, case, who):
    action, call = USE_CASES[case]
    actor = getattr(clinic, who)
    with pytest.raises(PermissionDenied) as e:
        call(clinic.store, actor)
    assert e.value.message == ("patient P1: your account may not do this. "
                               "sign in with an account that may, or ask the clinic's admin")
    assert audit_rows(clinic.store, outcome="denied") == [(who, actor.role, action, "P1", "denied", None)]
    assert count(clinic.store, TreatmentRow) == 0 and count(clinic.store, SymptomEntry) == 0
    assert count(clinic.store, Patient, Patient.pseudonym == "P1") == 1


@pytest.mark.parametrize("who", ["pat1", "dr", "admin"])
def test_the_patient_their_practitioner_and_the_admin_may_change_and_view_the_record(clinic, who):
    store, actor = clinic.store, getattr(clinic, who)
    tid = patients.add_treatment(store, "P1", Treatment(WHEN, needle_depth_mm=1.5), actor=actor)
    assert patients.add_symptoms(store, "P1", [DiaryEntry(WHEN, "pain", 2)], actor=actor) == 1
    assert patients.treatments(store, "P1", actor=actor) == [(tid, Treatment(WHEN, needle_depth_mm=1.5))]
    assert patients.symptoms(store, "P1", actor=actor) == (DiaryEntry(WHEN, "pain", 2),)
    assert treatment_course(store, "P1", actor=actor).treatment_id == tid
    rows = audit_rows(store, actor=who)
    assert rows == [
        (who, actor.role, "record.change", "P1", "ok", {"what": "treatment"}),
        (who, actor.role, "record.change", "P1", "ok", {"what": "diary", "given": 1}),
        (who, actor.role, "record.view", "P1", "ok", None),  # views coalesced: one line per 10 min
    ]


def test_visible_patients_by_role(clinic):
    store = clinic.store
    assert [p.pseudonym for p in patients.visible_patients(store, actor=clinic.admin)] == ["P1", "P2"]
    assert [p.pseudonym for p in patients.visible_patients(store, actor=clinic.dr)] == ["P1"]
    assert patients.visible_patients(store, actor=clinic.dr2) == []
    (mine,) = patients.visible_patients(store, actor=clinic.pat2)
    assert mine.pseudonym == "P2" and mine.care_consent and not mine.research_consent
    with pytest.raises(PermissionDenied):
        patients.visible_patients(store, actor=clinic.res)
    assert audit_rows(store, outcome="denied") == [("res", "researcher", "record.view", None, "denied", None)]


def test_a_practitioners_new_patient_joins_their_caseload(clinic):
    store = clinic.store
    patients.create_patient(store, "P0012", "Ann", actor=clinic.dr2)
    assert reach(store, clinic.dr2) == frozenset({"P0012"})
    assert reach(store, clinic.dr) == frozenset({"P1"})
    assert audit_rows(store, action="patient.create") == [
        ("dr2", "practitioner", "patient.create", "P0012", "ok", None)]
    with pytest.raises(StoreError) as e:  # never a silent rename of the patient who has it
        patients.create_patient(store, "P1", "Someone else", actor=clinic.admin)
    assert e.value.message == ("patient 'P1': a patient with this pseudonym already exists. "
                               "choose another pseudonym, or select that patient in the list")
    for who in (clinic.pat1, clinic.res):
        with pytest.raises(PermissionDenied):
            patients.create_patient(store, "P0013", actor=who)
    assert count(store, Patient) == 3


def test_ensure_patient_creates_or_renames_only_with_the_right(clinic):
    store = clinic.store
    assert patients.ensure_patient(store, "P7", "Bea", actor=clinic.admin) is True
    assert patients.ensure_patient(store, "P7", "Bea", actor=clinic.admin) is False
    with pytest.raises(PermissionDenied):
        patients.ensure_patient(store, "P7", "Eve", actor=clinic.dr)
    names = {p.pseudonym: p.display_name for p in patients.visible_patients(store, actor=clinic.admin)}
    assert names["P7"] == "Bea"


@pytest.fixture
def with_photos(clinic, az, op):
    import_photos(clinic.store, NORMAL[:1], "P1", actor=op, analyzer=az)
    import_photos(clinic.store, NORMAL[1:2], "P2", actor=op, analyzer=az)
    with clinic.store.sessions() as s:
        paths = dict(s.execute(select(Patient.pseudonym, Photo.stored_path).join(Photo)).all())
    return clinic, paths


def test_photo_path_gives_only_the_patients_own_photo(with_photos):
    clinic, paths = with_photos
    store = clinic.store
    got = patients.photo_path(store, "P1", paths["P1"], actor=clinic.pat1)
    assert got == store.data_dir / paths["P1"] and got.is_file()
    refusals = []
    for stored_path in (paths["P2"], "photos/nothing.jpg", "../analyzer.db", "/etc/passwd"):
        with pytest.raises(PermissionDenied) as e:
            patients.photo_path(store, "P1", stored_path, actor=clinic.pat1)
        refusals.append(e.value.message)
    # the same words whether or not the file exists: nothing says another patient's photo is there
    assert set(refusals) == {
        "patient P1: no such photo in this record. open the photo from the patient's page"}
    assert len(audit_rows(store, actor="pat1", outcome="denied")) == 4


def test_stored_photos_and_capture_time(with_photos):
    clinic, _ = with_photos
    store = clinic.store
    (photo,) = patients.stored_photos(store, "P1", actor=clinic.dr)
    patients.set_capture_time(store, "P1", photo.sha256, datetime(2026, 11, 5, 8), actor=clinic.pat1)
    (again,) = patients.stored_photos(store, "P1", actor=clinic.dr)
    assert again.result.captured_at == datetime(2026, 11, 5, 8)
    assert ("pat1", "patient", "record.change", "P1", "ok", {"what": "capture_time"}) in audit_rows(store)
    with pytest.raises(StoreError, match="no such photo for this patient"):
        patients.set_capture_time(store, "P1", "f" * 64, datetime(2026, 11, 5), actor=clinic.admin)


def test_deletion_is_the_admins_and_audited(with_photos):
    clinic, paths = with_photos
    store = clinic.store
    with pytest.raises(PermissionDenied):
        patients.delete_patient(store, "P1", actor=clinic.dr)
    assert (store.data_dir / paths["P1"]).is_file()
    s = patients.delete_patient(store, "P1", actor=clinic.admin)
    assert s.photos == 1 and s.files == (paths["P1"],) and not (store.data_dir / paths["P1"]).exists()
    assert audit_rows(store, action="patient.delete", outcome="ok") == [
        ("admin", "admin", "patient.delete", "P1", "ok", {"photos": 1})]
    with store.sessions() as ses:
        sha = ses.scalar(select(Photo.sha256))
    s = patients.delete_photo(store, sha, actor=clinic.admin)
    assert s.photos == 1 and count(store, Photo) == 0
    assert audit_rows(store, action="photo.delete") == [
        ("admin", "admin", "photo.delete", "P2", "ok", {"sha256": sha[:12]})]
    with pytest.raises(StoreError, match="no such patient"):
        patients.delete_patient(store, "P1", actor=clinic.admin)


def test_sweep_removes_only_old_files_no_row_refers_to(with_photos):
    clinic, paths = with_photos
    store = clinic.store
    old, fresh = store.photo_dir / "old-orphan.jpg", store.photo_dir / "fresh.jpg"
    old.write_bytes(b"left by a crash")
    fresh.write_bytes(b"an import in progress")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(store.data_dir / paths["P1"], (hour_ago, hour_ago))  # old, but a photo's copy
    for who in (clinic.dr, clinic.pat1, clinic.res):
        with pytest.raises(PermissionDenied):
            patients.sweep_orphans(store, actor=who)
    assert old.exists()
    assert patients.sweep_orphans(store, actor=clinic.admin) == ("photos/old-orphan.jpg",)
    assert not old.exists() and fresh.exists() and (store.data_dir / paths["P1"]).is_file()
    assert audit_rows(store, action="files.sweep", outcome="ok") == [
        ("admin", "admin", "files.sweep", None, "ok", {"files": 1})]


def test_triage_lists_only_the_actors_reach(clinic):
    store = clinic.store
    assert [r.pseudonym for r in triage(store, actor=clinic.admin)] == ["P1", "P2"]
    assert [r.pseudonym for r in triage(store, actor=clinic.dr)] == ["P1"]
    assert triage(store, actor=clinic.dr2) == []
    for who in (clinic.pat1, clinic.res):
        with pytest.raises(PermissionDenied) as e:
            triage(store, actor=who)
        assert e.value.message.startswith("triage.view: your account may not do this")
    assert ("dr", "practitioner", "triage.view", None, "ok", {"patients": 1}) in audit_rows(store)
    assert len(audit_rows(store, action="triage.view", outcome="denied")) == 2


@pytest.mark.parametrize("pseudonym,why", [
    ("Jane.Doe-1985", "it looks like a name or a birth year"),
    ("john_smith", "it looks like a name"),
    ("Jane.Doe", "it looks like a name"),
    ("smith_1985", "it looks like a name or a birth year"),
    ("1985-03-02", "it looks like a date"),
    ("19850302", "it looks like a date"),
    ("02.03.1985", "it looks like a date"),
    ("P02031985", "it looks like a date"),
])
def test_pseudonyms_that_look_like_names_or_dates_are_refused(clinic, pseudonym, why):
    with pytest.raises(StoreError) as e:
        check_pseudonym(pseudonym)
    assert e.value.message == (f"patient {pseudonym!r}: not a valid pseudonym: {why}. "
                               "use a code such as P0012, never a name or a birth date")
    with pytest.raises(StoreError):
        patients.create_patient(clinic.store, pseudonym, actor=clinic.admin)
    assert count(clinic.store, Patient) == 2


@pytest.mark.parametrize("pseudonym", ["P0012", "DEMO-1", "DEMO-4", "P-BROWSER", "S01-007", "P-ANN",
                                       "P-EMPTY", "P-1985", "PG1", "NOBODY", "P20261305"])
def test_codes_pass(pseudonym):
    assert check_pseudonym(pseudonym) == pseudonym


def test_a_pseudonym_with_a_space_is_refused_as_before():
    with pytest.raises(StoreError, match="not a valid pseudonym. use 1-64 letters"):
        check_pseudonym("Ann Smith")
