"""Reading the store back as analysis values: a patient's photos as :class:`PhotoResult`, their
treatments and diary, and small edits the dashboard makes (capture time).

The stored analysis keeps every number the recovery course needs (face and region metrics,
quality issues, calibration), so a course is rebuilt from the store without touching a photo;
:func:`stored_results` puts those numbers back into the result type :func:`analyze_series`
takes.  ``region`` picks which region plays the part of the face (the dashboard's per-region
toggle).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..recovery.symptoms import SymptomEntry as DiaryEntry
from ..recovery.treatment import Treatment as TreatmentSpec
from ..result import Calibration, LightReference, Metrics, PhotoResult, Quality, QualityIssue
from ..vocab import METRIC_KEYS, NON_BLOCKING_CODES, REGION_KEYS
from .db import Store, StoreError
from .models import Analysis, Patient, Photo
from .records import InTransaction, has_consent, has_research_consent, require_patient, wall_clock

__all__ = [
    "PatientInfo",
    "StoredPhoto",
    "aware",
    "list_patients",
    "patient_symptoms",
    "patient_treatments",
    "set_capture_time",
    "stored_results",
]


@dataclass(frozen=True)
class PatientInfo:
    """One patient as listed to the practitioner."""

    pseudonym: str
    display_name: str | None
    photos: int
    last_photo_at: datetime | None
    treatments: int
    research_consent: bool
    care_consent: bool = False


@dataclass(frozen=True)
class StoredPhoto:
    """One stored photo with its newest analysis as a :class:`PhotoResult` (no maps).
    ``original_name`` (and ``result.file``) get the hash's first 8 digits added when another
    photo of the patient has the same name."""

    sha256: str
    original_name: str
    stored_path: str
    result: PhotoResult


def aware(dt: datetime | None, offset_min: int | None) -> datetime | None:
    """A stored wall-clock time with its UTC offset attached when known."""
    if dt is None or offset_min is None:
        return dt
    return dt.replace(tzinfo=timezone(timedelta(minutes=offset_min)))


def list_patients(store: Store, pseudonyms: Collection[str] | None = None) -> list[PatientInfo]:
    """Every patient (or those of ``pseudonyms`` that exist), by pseudonym."""
    q = select(Patient).order_by(Patient.pseudonym).options(
        selectinload(Patient.photos), selectinload(Patient.treatments), selectinload(Patient.consents))
    if pseudonyms is not None:
        q = q.where(Patient.pseudonym.in_(list(pseudonyms)))
    with store.sessions() as s:
        rows = s.scalars(q)
        out = []
        for p in rows:
            times = [ph.captured_at for ph in p.photos if ph.captured_at is not None]
            out.append(PatientInfo(p.pseudonym, p.display_name, len(p.photos), max(times) if times else None,
                                   len(p.treatments), has_research_consent(p), has_consent(p, "care")))
        return out


def patient_treatments(store: Store, pseudonym: str) -> list[tuple[int, TreatmentSpec]]:
    """(id, treatment) of the patient, oldest first."""
    with store.sessions() as s:
        p = require_patient(s, pseudonym)
        return [
            (t.id, TreatmentSpec(aware(t.treated_at, t.utc_offset_min), needle_depth_mm=t.needle_depth_mm,
                                 protocol=t.protocol, areas=tuple(t.areas or ())))
            for t in sorted(p.treatments, key=lambda t: t.treated_at)
        ]


def patient_symptoms(store: Store, pseudonym: str) -> tuple[DiaryEntry, ...]:
    """The patient's symptom diary, oldest first."""
    with store.sessions() as s:
        p = require_patient(s, pseudonym)
        return tuple(DiaryEntry(e.at, e.symptom, e.level) for e in sorted(p.symptoms, key=lambda e: (e.at, e.id)))


def _metrics(values: dict[str, float]) -> Metrics | None:
    if not values:
        return None
    return Metrics(**{k: values.get(k, float("nan")) for k in METRIC_KEYS})


def _result(ph: Photo, an: Analysis, region: str) -> PhotoResult:
    by_region: dict[str, dict[str, float]] = {}
    for ob in an.observations:
        by_region.setdefault(ob.region, {})[ob.variable] = ob.value
    issues = tuple(
        QualityIssue(i["code"], i.get("message", ""), bool(i.get("blocking", i["code"] not in NON_BLOCKING_CODES)))
        for i in (an.quality_issues or [])
    )
    cal = (Calibration(an.calibration_method, bool(an.chart_found), an.residual_delta_e00)
           if an.calibration_method else None)
    regions = {k: m for k in REGION_KEYS if (m := _metrics(by_region.get(k, {}))) is not None}
    return PhotoResult(
        file=ph.original_name, ok=True, captured_at=aware(ph.captured_at, ph.utc_offset_min),
        width=ph.width, height=ph.height, quality=Quality(issues), calibration=cal,
        scale_px_per_mm=an.scale_px_per_mm, face=_metrics(by_region.get(region, {})),
        regions=MappingProxyType(regions), analyzer_version=an.analyzer_version,
        light_reference=LightReference.from_dict(an.light_reference),
    )


def stored_results(store: Store, pseudonym: str, *, region: str = "face") -> list[StoredPhoto]:
    """The patient's analysed photos, in capture order (undated last), as results.

    Parameters
    ----------
    region : str
        ``"face"`` (area-weighted over the regions) or one of :data:`REGION_KEYS`; its values
        fill ``result.face``, so :func:`analyze_series` follows that region.  A photo without
        that region measured has ``face`` None and is skipped by the course, with its reason.
    """
    if region != "face" and region not in REGION_KEYS:
        raise StoreError(f"region {region!r}", "unknown region", f"use face or one of {', '.join(REGION_KEYS)}")
    with store.sessions() as s:
        p = require_patient(s, pseudonym)
        photos = s.scalars(
            select(Photo).where(Photo.patient_id == p.id)
            .options(selectinload(Photo.analyses).selectinload(Analysis.observations))
        ).all()
        out = []
        names: set[str] = set()
        for ph in sorted(photos, key=lambda ph: (ph.captured_at is None, ph.captured_at or datetime.min, ph.id)):
            if not ph.analyses:
                continue
            an = max(ph.analyses, key=lambda a: a.id)  # the newest analysis
            result = _result(ph, an, region)
            if result.file in names:  # phones reuse names (image.jpg): keep each photo apart
                stem, dot, ext = result.file.rpartition(".")
                result = replace(result, file=f"{stem or ext} ({ph.sha256[:8]}){dot + ext if stem else ''}")
            names.add(result.file)
            out.append(StoredPhoto(ph.sha256, result.file, ph.stored_path, result))
        return out


def set_capture_time(store: Store, pseudonym: str, sha256: str, when: datetime, *,
                     also: InTransaction | None = None) -> None:
    """Correct a photo's capture time (the patient knows better than a missing or wrong EXIF
    date).  A naive ``when`` is the phone's wall clock; an aware one keeps its offset.  ``also``
    runs in the same transaction."""
    captured, offset = wall_clock(when)
    with store.sessions.begin() as s:
        p = require_patient(s, pseudonym)
        ph = s.scalar(select(Photo).where(Photo.patient_id == p.id, Photo.sha256 == sha256))
        if ph is None:
            raise StoreError(f"photo {sha256[:12]}", "no such photo for this patient", "reload the page")
        ph.captured_at, ph.utc_offset_min = captured, offset
        if also is not None:
            also(s)
