"""Consent as a record (analyzer.service.consent) and the care-consent gate of every import."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analyzer.cli import main
from analyzer.service import batch as batch_module
from analyzer.service.access import PermissionDenied
from analyzer.service.consent import (
    CONSENT_TEXTS,
    ConsentRecord,
    ConsentRequired,
    consents,
    give_consent,
    has_open_consent,
    require_care_consent,
    withdraw_consent,
)
from analyzer.service.imports import import_photo_bytes, import_photos
from analyzer.store import StoreError, open_store
from analyzer.store.models import AuditEvent, Consent, ImportFailure, Patient, Photo
from analyzer.vocab import CONSENT_SCOPES

NORMAL = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))
REFUSED = ("{}: no care consent is recorded, so no photo is stored or analysed. record it first: "
           "add --consent care to the command, or give consent on the Patient page")


class NeverAnalyse:
    """An analyzer that fails the test if anything touches it."""

    def __getattr__(self, name):
        raise AssertionError(f"the analyzer was used ({name}) although the import was refused")


def count(store, model, *where):
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def audit_rows(store, **where):
    with store.sessions() as s:
        q = select(AuditEvent).order_by(AuditEvent.id)
        for k, v in where.items():
            q = q.where(getattr(AuditEvent, k) == v)
        return [(e.actor, e.action, e.patient, e.outcome, e.detail) for e in s.scalars(q)]


def nothing_stored(store) -> bool:
    files = list(store.photo_dir.iterdir()) if store.photo_dir.exists() else []
    return count(store, Photo) == 0 and count(store, ImportFailure) == 0 and files == []


def test_every_scope_has_a_versioned_plain_text():
    assert set(CONSENT_TEXTS) == set(CONSENT_SCOPES)
    assert {s: t.version for s, t in CONSENT_TEXTS.items()} == {"care": "care-1", "research": "research-1"}
    for t in CONSENT_TEXTS.values():
        assert "withdraw" in t.text and "<" not in t.text and "*" not in t.text  # plain text, says how
    assert "Researchers never see your photos" in CONSENT_TEXTS["research"].text


def test_history_keeps_the_text_version_and_who_recorded_and_withdrew(clinic):
    store = clinic.store
    give_consent(store, "P1", "research", actor=clinic.pat1, given_at=datetime(2026, 11, 1, 9))
    give_consent(store, "P1", "research", actor=clinic.dr)  # already open: nothing changes
    withdraw_consent(store, "P1", "research", actor=clinic.pat1, at=datetime(2026, 11, 20, 10))
    withdraw_consent(store, "P1", "research", actor=clinic.pat1)  # nothing open: nothing changes
    give_consent(store, "P1", "research", actor=clinic.dr, given_at=datetime(2026, 11, 25))
    history = [c for c in consents(store, "P1", actor=clinic.pat1) if c.scope == "research"]
    assert history == [
        ConsentRecord("research", datetime(2026, 11, 1, 9), "research-1", "pat1",
                      datetime(2026, 11, 20, 10), "pat1"),
        ConsentRecord("research", datetime(2026, 11, 25), "research-1", "dr", None, None),
    ]
    assert has_open_consent(store, "P1", "research") and not has_open_consent(store, "P2", "research")
    assert audit_rows(store, action="consent.give") == [
        ("pat1", "consent.give", "P1", "ok", {"scope": "research", "text_version": "research-1"}),
        ("dr", "consent.give", "P1", "ok", {"scope": "research", "text_version": "research-1"}),
    ]
    assert audit_rows(store, action="consent.withdraw") == [
        ("pat1", "consent.withdraw", "P1", "ok", {"scope": "research"})]


@pytest.mark.parametrize("who", ["pat2", "dr2", "res"])
def test_the_wrong_user_may_not_give_withdraw_or_read_consent(clinic, who):
    store, actor = clinic.store, getattr(clinic, who)
    for call in (lambda: give_consent(store, "P1", "research", actor=actor),
                 lambda: withdraw_consent(store, "P1", "care", actor=actor),
                 lambda: consents(store, "P1", actor=actor)):
        with pytest.raises(PermissionDenied):
            call()
    denied = [r[1] for r in audit_rows(store, outcome="denied")]
    assert denied == ["consent.change", "consent.change", "record.view"]
    assert has_open_consent(store, "P1", "care") and not has_open_consent(store, "P1", "research")


def test_bad_scope_and_unknown_patient(clinic):
    with pytest.raises(StoreError) as e:
        give_consent(clinic.store, "P1", "marketing", actor=clinic.admin)
    assert e.value.message == "consent 'marketing': unknown scope of consent. use one of care, research"
    with pytest.raises(StoreError, match="no such patient"):
        withdraw_consent(clinic.store, "P404", "care", actor=clinic.admin)
    assert count(clinic.store, Patient, Patient.pseudonym == "P404") == 0


def test_require_care_consent_names_the_fix(clinic):
    require_care_consent(clinic.store, "P1")
    with pytest.raises(ConsentRequired) as e:
        require_care_consent(clinic.store, "P404")
    assert e.value.message == REFUSED.format("P404")


def test_import_without_care_consent_stores_and_analyses_nothing(clinic, consented):
    store = clinic.store
    consented(store, "P3", scope="research")  # research consent is not care consent
    for patient in ("P3", "P404"):  # a patient without care consent, a patient not in the store
        with pytest.raises(ConsentRequired) as e:
            import_photos(store, NORMAL[:2], patient, actor=clinic.admin, analyzer=NeverAnalyse())
        assert e.value.message == REFUSED.format(patient)
        with pytest.raises(ConsentRequired):
            import_photo_bytes(store, patient, "a.jpg", NORMAL[0].read_bytes(), NeverAnalyse(),
                               actor=clinic.admin)
    assert nothing_stored(store) and count(store, Patient, Patient.pseudonym == "P404") == 0
    assert audit_rows(store, outcome="denied")[0] == (
        "admin", "record.change", "P3", "denied", {"what": "photos", "reason": "no care consent"})


def test_the_wrong_user_cannot_import_even_with_consent(clinic):
    for who in (clinic.pat2, clinic.dr2, clinic.res):
        with pytest.raises(PermissionDenied):
            import_photos(clinic.store, NORMAL[:1], "P1", actor=who, analyzer=NeverAnalyse())
    assert nothing_stored(clinic.store)


def test_withdrawn_care_consent_stops_imports_but_deletes_no_photo(clinic, az):
    store = clinic.store
    s = import_photos(store, NORMAL[:1], "P1", actor=clinic.pat1, analyzer=az)
    assert s.ok and len(s.imported) == 1
    assert audit_rows(store, action="record.change") == [
        ("pat1", "record.change", "P1", "ok", {"what": "photos", "stored": 1, "failed": 0})]
    withdraw_consent(store, "P1", "care", actor=clinic.pat1)
    with pytest.raises(ConsentRequired) as e:
        import_photos(store, NORMAL[1:2], "P1", actor=clinic.pat1, analyzer=NeverAnalyse())
    assert e.value.message == REFUSED.format("P1")
    with pytest.raises(ConsentRequired):
        import_photo_bytes(store, "P1", "b.jpg", NORMAL[1].read_bytes(), NeverAnalyse(), actor=clinic.dr)
    assert count(store, Photo) == 1 and len(list(store.photo_dir.iterdir())) == 1  # the admin deletes
    give_consent(store, "P1", "care", actor=clinic.pat1)  # given again: a new row, imports go on
    assert [(c.scope, c.withdrawn_by) for c in consents(store, "P1", actor=clinic.pat1)] == [
        ("care", "pat1"), ("care", None)]


def test_the_batch_is_refused_before_a_cluster_starts(clinic, monkeypatch):
    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started although the batch was refused")

    monkeypatch.setattr(batch_module, "_client", no_cluster)
    with pytest.raises(ConsentRequired) as e:
        batch_module.run_batch(clinic.store, NORMAL[:2], "P404", actor=clinic.admin, progress=False)
    assert e.value.message == REFUSED.format("P404")
    with pytest.raises(PermissionDenied):
        batch_module.run_batch(clinic.store, NORMAL[:2], "P1", actor=clinic.dr2, progress=False)
    assert nothing_stored(clinic.store)


def test_cli_import_records_consent_first_and_refuses_without(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    assert main(["import", str(NORMAL[0]), "--patient", "P0012", "--db", db]) == 1
    assert capsys.readouterr().err == "error: " + REFUSED.format("P0012") + "\n"
    with open_store(db) as store:
        assert nothing_stored(store) and count(store, Patient) == 0
    out = io.StringIO()
    assert main(["import", str(NORMAL[0]), "--patient", "P0012", "--name", "Ann", "--consent", "care",
                 "--consent", "research", "--db", db], stdout=out) == 0
    assert "imported 1, re-analysed 0, unchanged 0, failed 0" in out.getvalue()
    with open_store(db) as store:
        with store.sessions() as s:
            rows = s.scalars(select(Consent).order_by(Consent.id)).all()
            assert [(c.kind, c.text_version) for c in rows] == [("care", "care-1"),
                                                                 ("research", "research-1")]
            assert all(c.recorded_by.startswith("cli:") for c in rows)
            assert s.scalar(select(Patient.display_name)) == "Ann"
        actions = [a for _w, a, *_ in audit_rows(store, outcome="ok")]
        assert actions == ["patient.create", "consent.give", "consent.give", "record.change"]
    # consent recorded once is enough for the next import
    assert main(["import", str(NORMAL[1]), "--patient", "P0012", "--db", db], stdout=io.StringIO()) == 0


def test_cli_refuses_a_pseudonym_that_looks_like_a_name(tmp_path, capsys):
    db = str(tmp_path / "cli.db")
    assert main(["import", str(NORMAL[0]), "--patient", "john_smith", "--consent", "care", "--db", db]) == 1
    assert capsys.readouterr().err == ("error: patient 'john_smith': not a valid pseudonym: it looks like a "
                                       "name. use a code such as P0012, never a name or a birth date\n")
    with open_store(db) as store:
        assert count(store, Patient) == 0
