"""Deleting a photo or a patient leaves no rows and no stored files behind."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analyzer.cli import main
from analyzer.recovery.symptoms import SymptomEntry as DiaryEntry
from analyzer.recovery.treatment import Treatment as TreatmentSpec
from analyzer.service.access import Actor
from analyzer.service.imports import import_photos
from analyzer.store import (
    StoreError,
    add_symptoms,
    add_treatment,
    delete_patient,
    delete_photo,
    open_store,
    set_consent,
)
from analyzer.store.models import (
    Analysis,
    AuditEvent,
    Consent,
    ImportFailure,
    Observation,
    Patient,
    Photo,
    SymptomEntry,
    Treatment,
)

OP = Actor.operator()

NORMAL = Path(__file__).parents[1] / "sample_images" / "normal"
TWO = sorted(NORMAL.glob("*.jpg"))[:2]


@pytest.fixture
def store(tmp_path, az, consented):
    with open_store(tmp_path / "analyzer.db") as s:
        consented(s, "P1", "P2")
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"junk")
        import_photos(s, [*TWO, bad], patient="P1", actor=OP, analyzer=az)
        import_photos(s, TWO[:1], patient="P2", actor=OP, analyzer=az)  # the same bytes for another patient
        add_treatment(s, "P1", TreatmentSpec(datetime(2026, 11, 3, 9)))
        add_symptoms(s, "P1", [DiaryEntry(datetime(2026, 11, 4, 12), "pain", 2)])
        set_consent(s, "P1", "research")
        yield s


def n(store, model, *where):
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def sha_of(store, path: Path) -> str:
    from analyzer.store import sha256_of

    return sha256_of(path.read_bytes())


def rel_of(store, sha: str) -> str:
    """The stored copy's path relative to the data folder (a keyed name, not the SHA-256)."""
    with store.sessions() as s:
        return s.scalars(select(Photo.stored_path).where(Photo.sha256 == sha)).first()


def test_delete_photo_removes_rows_and_file(store):
    sha = sha_of(store, TWO[1])
    rel = rel_of(store, sha)
    stored = store.data_dir / rel
    assert stored.exists() and sha not in rel
    s = delete_photo(store, sha)
    assert s.photos == 1 and s.files == (rel,)
    assert not stored.exists()
    assert n(store, Photo, Photo.sha256 == sha) == 0
    assert n(store, Photo) == 2 and n(store, Analysis) == 2
    with store.sessions() as ses:
        live = set(ses.scalars(select(Analysis.id)))
        assert all(o.analysis_id in live for o in ses.scalars(select(Observation)))


def test_shared_file_kept_until_last_patient_photo_is_deleted(store):
    sha = sha_of(store, TWO[0])
    rel = rel_of(store, sha)
    stored = store.data_dir / rel
    assert delete_photo(store, sha, pseudonym="P1").files == ()
    assert stored.exists() and n(store, Photo, Photo.sha256 == sha) == 1
    assert delete_photo(store, sha, pseudonym="P2").files == (rel,)
    assert not stored.exists()


def test_delete_patient_removes_everything(store):
    before = set(store.photo_dir.iterdir())
    s = delete_patient(store, "P1")
    assert s.photos == 2
    assert n(store, Patient, Patient.pseudonym == "P1") == 0
    for model in (Treatment, SymptomEntry, ImportFailure):
        assert n(store, model) == 0
    assert n(store, Consent) == 1  # P2's care consent
    assert n(store, Photo) == 1 and n(store, Analysis) == 1  # P2's photo
    remaining = set(store.photo_dir.iterdir())
    assert len(before) == 2 and len(remaining) == 1  # the shared file stays for P2
    delete_patient(store, "P2")
    assert n(store, Photo) == 0 and n(store, Analysis) == 0 and n(store, Observation) == 0
    assert list(store.photo_dir.iterdir()) == []


def test_delete_unknown_says_so(store):
    with pytest.raises(StoreError, match="no such patient"):
        delete_patient(store, "NOPE")
    with pytest.raises(StoreError, match="no such photo"):
        delete_photo(store, "0" * 64)


def test_cli_delete(store):
    db = str(Path(store.url.removeprefix("sqlite:///")))
    out = io.StringIO()
    assert main(["delete", "--photo", sha_of(store, TWO[1]), "--db", db], stdout=out) == 0
    assert "deleted 1 photo(s) and 1 stored file(s)" in out.getvalue()
    assert main(["delete", "--patient", "P1", "--db", db], stdout=io.StringIO()) == 0
    assert main(["delete", "--patient", "P1", "--db", db], stdout=io.StringIO()) == 1
    with store.sessions() as s:  # audited under the operating-system account's name
        done = [(e.actor, e.action, e.patient) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.outcome == "ok", AuditEvent.action.like("%.delete")))]
    assert done == [(OP.login, "photo.delete", "P1"), (OP.login, "patient.delete", "P1")]
    assert n(store, Patient, Patient.pseudonym == "P1") == 0
