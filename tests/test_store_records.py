"""Treatments, symptoms and consent in the store (no photo analysis needed)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from sqlalchemy import select

from analyzer.cli import main
from analyzer.recovery.symptoms import SymptomEntry as DiaryEntry
from analyzer.recovery.treatment import Treatment as TreatmentSpec
from analyzer.service.access import Actor
from analyzer.service.export import export_observations
from analyzer.store import StoreError, add_symptoms, add_treatment, open_store, set_consent
from analyzer.store.models import Consent, Patient, SymptomEntry, Treatment

OP = Actor.operator()


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "analyzer.db") as s:
        yield s


def test_treatment_is_recorded_once_and_updated(store):
    when = datetime.fromisoformat("2026-11-03T09:00+01:00")
    a = add_treatment(store, "P1", TreatmentSpec(when, needle_depth_mm=1.0, areas=("forehead",)))
    b = add_treatment(store, "P1", TreatmentSpec(when, needle_depth_mm=1.5))
    assert a == b
    with store.sessions() as s:
        t = s.scalars(select(Treatment)).one()
        assert t.needle_depth_mm == 1.5 and t.areas == ["face"] and t.utc_offset_min == 60
        assert t.treated_at == datetime(2026, 11, 3, 9, 0)


def test_symptoms_are_not_added_twice(store):
    entries = [DiaryEntry(datetime(2026, 11, 4, 12), "pain", 2), DiaryEntry(datetime(2026, 11, 5, 12), "itching")]
    assert add_symptoms(store, "P1", entries) == 2
    assert add_symptoms(store, "P1", entries) == 0
    with store.sessions() as s:
        assert len(s.scalars(select(SymptomEntry)).all()) == 2


def test_consent_given_and_withdrawn(store, tmp_path):
    set_consent(store, "P1", "research", given_at=datetime(2026, 11, 1))
    set_consent(store, "P1", "research")  # already open: no second row
    with store.sessions() as s:
        assert len(s.scalars(select(Consent)).all()) == 1
    set_consent(store, "P1", "research", withdrawn_at=datetime(2026, 11, 20))
    with store.sessions() as s:
        c = s.scalars(select(Consent)).one()
        assert c.withdrawn_at == datetime(2026, 11, 20)
    s = export_observations(store, tmp_path / "x.csv", actor=OP, log=lambda m: None)
    assert s.patients == 0 and s.excluded_without_consent == 1
    with pytest.raises(StoreError, match="unknown kind"):
        set_consent(store, "P1", "marketing")


def test_bad_pseudonym_is_refused(store):
    with pytest.raises(StoreError, match="pseudonym"):
        add_treatment(store, "Ann Smith", TreatmentSpec(datetime(2026, 11, 3)))


def test_cli_import_with_symptom_diary(tmp_path):
    diary = tmp_path / "diary.csv"
    diary.write_text("when,symptom,level\n2026-11-04,pain,3\n2026-11-05T08:00,itching,\n")
    db = str(tmp_path / "c.db")
    missing = str(tmp_path / "missing.jpg")
    assert main(["import", missing, "--patient", "P5", "--consent", "care", "--symptoms", str(diary),
                 "--db", db],
                stdout=io.StringIO()) == 1  # the photo is missing; the diary is still stored
    with open_store(db) as store, store.sessions() as s:
        p = s.scalars(select(Patient)).one()
        assert sorted((e.symptom, e.level) for e in p.symptoms) == [("itching", 1), ("pain", 3)]
        assert len(p.failures) == 1 and "cannot read" in p.failures[0].reason
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\n")
    assert main(["import", missing, "--patient", "P5", "--symptoms", str(bad), "--db", db]) == 2
