"""What the Patient page does: patients and treatments, uploads with their verdicts, the recovery
course as tables ready to chart, the diary, and the photo timeline.

Plain Python: every function takes the store (and the analyzer when photos are read) and the
acting user (``actor``, keyword-only: the use cases of :mod:`analyzer.service` check and audit
it) and returns values; nothing is cached here (the pages cache per user, ``analyzer/ui/state.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from analyzer.align import LocatedFace, align_face, face_outline, locate_face, reference_frame
from analyzer.errors import AnalyzerError, plain_message
from analyzer.overlay import render_overlay
from analyzer.pipeline import Analyzer
from analyzer.recovery.aftercare import aftercare_for
from analyzer.recovery.noise import Z
from analyzer.recovery.series import SeriesResult
from analyzer.recovery.symptoms import SYMPTOMS
from analyzer.recovery.symptoms import SymptomEntry as DiaryEntry
from analyzer.recovery.treatment import Treatment
from analyzer.service import consent as consent_case
from analyzer.service import patients as patients_case
from analyzer.service.access import Actor, check
from analyzer.service.courses import (
    days_since,
    distance_from_expected,
    flags_most_severe_first,
    treatment_course,
    typical_noise_sd,
)
from analyzer.service.imports import import_photo_bytes
from analyzer.settings import MAX_FILES_PER_UPLOAD
from analyzer.store.db import Store, StoreError
from analyzer.store.query import StoredPhoto
from analyzer.vocab import CONSENT_SCOPES, REGIONS

__all__ = [
    "DIARY_SYMPTOMS",
    "MAX_FILES_PER_UPLOAD",
    "REGION_CHOICES",
    "ConsentView",
    "CourseView",
    "PhotoVerdict",
    "TimelinePhoto",
    "TooManyFiles",
    "add_diary",
    "aligned_faces",
    "baseline_outline",
    "consent_view",
    "course_view",
    "create_patient",
    "give_consent",
    "withdraw_consent",
    "overlay_image",
    "save_treatment",
    "set_photo_time",
    "timeline",
    "treatments",
    "upload_photos",
]

REGION_CHOICES = REGIONS
"""What the per-region toggle offers: the whole face (area-weighted) or one region."""

DIARY_SYMPTOMS = tuple(s for s in SYMPTOMS if s != "redness")
"""Asked in the diary (pain 0-10; warmth, swelling, itching, pus yes/no)."""


class TooManyFiles(AnalyzerError):
    """More photos in one upload than :data:`MAX_FILES_PER_UPLOAD`."""


def create_patient(store: Store, pseudonym: str, display_name: str | None = None, *, actor: Actor) -> None:
    """Create a new patient (:func:`analyzer.service.patients.create_patient`: a practitioner's
    new patient joins their caseload), raising :class:`StoreError` for a bad pseudonym or one
    that is taken (an existing patient is never renamed from here)."""
    patients_case.create_patient(store, pseudonym.strip(), (display_name or "").strip() or None, actor=actor)


def save_treatment(store: Store, pseudonym: str, treated_at: datetime, needle_depth_mm: float, *,
                   actor: Actor) -> int:
    """Record a treatment; returns its id.  Raises the analyzer's error for a bad depth."""
    return patients_case.add_treatment(store, pseudonym, Treatment(treated_at, needle_depth_mm=float(needle_depth_mm)),
                                       actor=actor)


def treatments(store: Store, pseudonym: str, *, actor: Actor) -> list[tuple[int, Treatment]]:
    """(id, treatment), oldest first."""
    return patients_case.treatments(store, pseudonym, actor=actor)


# --- consent -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentView:
    """One consent scope as the patient page shows it.

    Attributes
    ----------
    scope : {"care", "research"}
    title : str
    text : str
        The text the patient agrees to (:data:`analyzer.service.consent.CONSENT_TEXTS`).
    version : str
        Its version.
    given : bool
        An open (not withdrawn) consent of this scope exists.
    history : tuple of ConsentRecord
        Every consent of this scope, oldest first.
    """

    scope: str
    title: str
    text: str
    version: str
    given: bool
    history: tuple


_CONSENT_TITLES = {"care": "Care: my photos and diary are analysed for my treatment",
                   "research": "Research: my de-identified measurements may be used in studies"}


def consent_view(store: Store, pseudonym: str, *, actor: Actor) -> list[ConsentView]:
    """Each consent scope (care, research) with its text, whether it is given, and its history."""
    records = consent_case.consents(store, pseudonym, actor=actor)
    out = []
    for scope in CONSENT_SCOPES:
        text = consent_case.CONSENT_TEXTS[scope]
        mine = tuple(r for r in records if r.scope == scope)
        out.append(ConsentView(scope, _CONSENT_TITLES.get(scope, scope.capitalize()), text.text, text.version,
                               any(r.withdrawn_at is None for r in mine), mine))
    return out


def give_consent(store: Store, pseudonym: str, scope: str, *, actor: Actor) -> None:
    """Record the patient's consent of ``scope`` (now, to the current text, by ``actor``)."""
    consent_case.give_consent(store, pseudonym, scope, actor=actor)


def withdraw_consent(store: Store, pseudonym: str, scope: str, *, actor: Actor) -> None:
    """Withdraw the patient's consent of ``scope`` (now, by ``actor``)."""
    consent_case.withdraw_consent(store, pseudonym, scope, actor=actor)


# --- uploads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoVerdict:
    """One uploaded photo, as the patient sees it.

    ``status`` is ``imported``, ``reanalysed``, ``unchanged`` (already there) or ``failed``;
    ``problems`` are (code, message with the retake tip, blocking) from the quality gate;
    ``message`` is the plain reason when it failed.
    """

    name: str
    status: str
    sha256: str | None
    captured_at: datetime | None
    quality_ok: bool | None
    problems: tuple[tuple[str, str, bool], ...] = ()
    message: str | None = None

    @property
    def usable(self) -> bool:
        return self.status != "failed"


def upload_photos(store: Store, analyzer: Analyzer, pseudonym: str, files: Sequence[tuple[str, bytes]],
                  progress: Callable[[int, int, str], None] | None = None, *, actor: Actor) -> list[PhotoVerdict]:
    """Analyse and store uploaded photos one by one; a bad photo never stops the others.

    Parameters
    ----------
    files : sequence of (name, bytes)
        At most :data:`MAX_FILES_PER_UPLOAD`.
    progress : callable(done, total, name), optional

    Raises
    ------
    TooManyFiles
        More than :data:`MAX_FILES_PER_UPLOAD` files: nothing is imported.
    ConsentRequired
        The patient has no care consent: nothing is imported
        (:func:`analyzer.service.consent.require_care_consent`).
    PermissionDenied
        ``actor`` may not change this patient's record.
    """
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise TooManyFiles(f"{len(files)} photos", f"at most {MAX_FILES_PER_UPLOAD} photos can be added at once",
                           f"choose {MAX_FILES_PER_UPLOAD} or fewer and add the others afterwards")
    check(store, actor, "record.change", pseudonym)  # before anything is read (a refusal is audited)
    consent_case.require_care_consent(store, pseudonym)
    out = []
    stored: dict[str, StoredPhoto] | None = None  # read back once, when a photo was already there
    for i, (name, data) in enumerate(files):
        if progress is not None:
            progress(i, len(files), name)
        try:
            o = import_photo_bytes(store, pseudonym, name, data, analyzer, actor=actor)
        except Exception as e:  # noqa: BLE001 - shown per photo, in plain words
            out.append(PhotoVerdict(name, "failed", None, None, None, message=plain_message(e)))
            continue
        r = o.result
        problems = tuple((q.code, q.message, q.blocking) for q in r.quality.issues) if r is not None and r.ok else ()
        captured = r.captured_at if r is not None else None
        if o.status == "unchanged" and r is None:
            if stored is None or o.sha256 not in stored:  # (again if it came earlier in this upload)
                stored = {p.sha256: p for p in patients_case.stored_photos(store, pseudonym, actor=actor)}
            before = stored.get(o.sha256)
            if before is not None:
                captured = before.result.captured_at
                problems = tuple((q.code, q.message, q.blocking) for q in before.result.quality.issues)
        ok = None if o.status == "failed" else not any(b for _, _, b in problems)
        out.append(PhotoVerdict(name, o.status, o.sha256, captured, ok, problems, o.reason))
    if progress is not None:
        progress(len(files), len(files), "")
    return out


def set_photo_time(store: Store, pseudonym: str, sha256: str, when: datetime, *, actor: Actor) -> None:
    """Correct a photo's capture time."""
    patients_case.set_capture_time(store, pseudonym, sha256, when, actor=actor)


def add_diary(store: Store, pseudonym: str, when: datetime, levels: dict[str, int], *, actor: Actor) -> int:
    """Record one diary check-in: ``levels`` maps symptom -> 0-10 (yes/no as 1/0).  Every asked
    symptom is stored, zeros included, so 'no pain today' is a record too."""
    bad = [k for k in levels if k not in SYMPTOMS]
    if bad:
        raise StoreError("diary", f"unknown symptom {bad[0]!r}", f"use one of {', '.join(SYMPTOMS)}")
    for k, v in levels.items():
        if not 0 <= int(v) <= 10:
            raise StoreError("diary", f"{k} level {v} is outside 0-10", "give a level from 0 to 10")
    return patients_case.add_symptoms(store, pseudonym, [DiaryEntry(when, k, int(v)) for k, v in levels.items()],
                                      actor=actor)


# --- the course ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseView:
    """One treatment's course (:func:`analyzer.service.courses.treatment_course`), as tables
    ready to show.

    Attributes
    ----------
    series : SeriesResult
    region : str
    points : DataFrame
        One row per photo: day, hours, file, sha256, redness, excess, expected, low, high (normal
        range incl. noise), noise (1 sd), quality_ok, colour_ok (reliable for redness and
        pigment: :attr:`analyzer.recovery.points.Point.colour_ok`), melanin_change, texture_change,
        flaking_change and their noise.
    curve : DataFrame
        A fine day grid: expected, band_low/band_high (normal variation of the healing speed)
        and noise_low/noise_high (expected +- 2 sd of a typical photo's measurement noise,
        :func:`analyzer.service.courses.typical_noise_sd`).
    flags : DataFrame
        code, severity, day, message, file; most severe first.
    aftercare_now : tuple of str
        What applies at ``now`` (empty before the treatment).
    hours_now : float
    """

    treatment_id: int
    treatment: Treatment
    region: str
    series: SeriesResult
    points: pd.DataFrame
    curve: pd.DataFrame
    flags: pd.DataFrame
    aftercare_now: tuple[str, ...]
    hours_now: float

    @property
    def has_points(self) -> bool:
        return not self.points.empty

    @property
    def worst_severity(self) -> str | None:
        return None if self.flags.empty else str(self.flags.iloc[0]["severity"])

    @property
    def distance(self) -> tuple[float, float | None]:
        """(z, day) of the latest good photo: :func:`analyzer.service.courses.distance_from_expected`."""
        return distance_from_expected(self.series)


_POINT_COLUMNS = ("day", "hours", "file", "sha256", "captured_at", "redness", "excess", "expected", "low", "high",
                  "noise", "quality_ok", "colour_ok", "quality", "melanin_change", "melanin_noise", "texture_change",
                  "texture_noise", "flaking_change", "flaking_noise")


def course_view(store: Store, pseudonym: str, *, actor: Actor, treatment_id: int | None = None,
                region: str = "face", now: datetime | None = None) -> CourseView | None:
    """The course of one treatment (default: the latest) for one region, as tables; None
    without a treatment.  Which photos belong to it: :mod:`analyzer.service.courses`."""
    course = treatment_course(store, pseudonym, actor=actor, treatment_id=treatment_id, region=region)
    if course is None:
        return None
    series, tr = course.series, course.treatment
    rows = []
    for sp in series.points:
        p, b = sp.point, series.baseline
        rows.append({
            "day": p.hours / 24, "hours": p.hours, "file": p.file, "sha256": course.sha256_of(p.file),
            "captured_at": p.captured_at, "redness": p.redness, "excess": sp.redness_excess,
            "expected": sp.expected_excess, "low": sp.expected_low, "high": sp.expected_high,
            "noise": p.redness_sd, "quality_ok": p.quality_ok, "colour_ok": p.colour_ok,
            "quality": (("light matched through the eyes" if p.light == "relative" else "ok") if p.colour_ok
                        else ("other colour scale" if not p.same_scale else "light not corrected")
                        if p.quality_ok else ", ".join(c for c, _ in p.quality_issues) or "poor"),
            "melanin_change": p.melanin - b.melanin, "melanin_noise": p.melanin_sd,
            "texture_change": p.texture - b.texture, "texture_noise": p.texture_sd,
            "flaking_change": p.flaking - b.flaking, "flaking_noise": p.flaking_sd,
        })
    points = pd.DataFrame(rows, columns=list(_POINT_COLUMNS))
    last_h = max([24 * 14.0] + [p.point.hours for p in series.points])
    first_h = min([0.0] + [p.point.hours for p in series.points])
    grid = np.linspace(first_h, last_h, 240)
    curve = pd.DataFrame([
        {"day": h / 24, "expected": series.course.at(h) if h >= 0 else 0.0,
         "band_low": series.course.band(h)[0] if h >= 0 else 0.0,
         "band_high": series.course.band(h)[1] if h >= 0 else 0.0}
        for h in grid
    ])
    sd_typ = typical_noise_sd(series)
    curve["noise_low"] = curve["expected"] - Z * sd_typ
    curve["noise_high"] = curve["expected"] + Z * sd_typ
    flags = pd.DataFrame([
        {"code": f.code, "severity": f.severity, "day": f.hours / 24, "hours": f.hours, "message": f.message,
         "file": f.file} for f in flags_most_severe_first(series.flags)
    ], columns=["code", "severity", "day", "hours", "message", "file"])
    now = now or datetime.now(tr.treated_at.tzinfo)
    hours_now = tr.hours_since(now)
    return CourseView(course.treatment_id, tr, region, series, points, curve, flags,
                      tuple(a.text for a in aftercare_for(hours_now)), hours_now)


# --- photos ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePhoto:
    """One stored photo of ``patient`` (its bytes are read through
    :func:`analyzer.service.patients.photo_path`, which checks the actor again)."""

    patient: str
    sha256: str
    file: str
    stored_path: str
    captured_at: datetime | None
    day: float | None
    quality_ok: bool


def timeline(store: Store, pseudonym: str, treatment: Treatment | None, *, actor: Actor) -> list[TimelinePhoto]:
    """The patient's photos in capture order with their day since ``treatment``."""
    out = []
    for p in patients_case.stored_photos(store, pseudonym, actor=actor):
        when = p.result.captured_at
        day = days_since(when, treatment.treated_at if treatment is not None else None)
        out.append(TimelinePhoto(pseudonym, p.sha256, p.original_name, p.stored_path, when, day, p.result.quality.ok))
    return out


def _stored_bytes(store: Store, photo: TimelinePhoto, actor: Actor) -> bytes:
    path = patients_case.photo_path(store, photo.patient, photo.stored_path, actor=actor)
    try:
        return path.read_bytes()
    except OSError as e:
        raise StoreError(photo.file, f"the stored copy is missing ({e.strerror})",
                         "upload the photo again") from e


def _locate(store: Store, analyzer: Analyzer, photo: TimelinePhoto, actor: Actor) -> LocatedFace:
    return locate_face(analyzer, _stored_bytes(store, photo, actor), name=photo.file)


def aligned_faces(store: Store, analyzer: Analyzer, photos: Sequence[TimelinePhoto], reference: TimelinePhoto,
                  size: int = 360, *, actor: Actor) -> dict[str, np.ndarray | str]:
    """Each photo's face lined up with the ``reference`` (baseline) face: sha -> RGB image, or
    the plain reason it could not be shown."""
    ref = _locate(store, analyzer, reference, actor)
    target = reference_frame(ref.points, size)
    out: dict[str, np.ndarray | str] = {}
    for p in photos:
        try:
            face = ref if p.sha256 == reference.sha256 else _locate(store, analyzer, p, actor)
            out[p.sha256] = align_face(face, target, size)
        except AnalyzerError as e:
            out[p.sha256] = e.message
    return out


def baseline_outline(store: Store, analyzer: Analyzer, reference: TimelinePhoto, size: int = 360, *,
                     actor: Actor) -> np.ndarray:
    """The baseline face (lined up) with its faint outline drawn on it, as RGB: the guide for
    taking the next photo at the same distance and angle."""
    ref = _locate(store, analyzer, reference, actor)
    target = reference_frame(ref.points, size)
    face = align_face(ref, target, size).astype(np.float32)
    line = face_outline(target, size, colour=(255, 255, 255), alpha=230)
    a = line[..., 3:4].astype(np.float32) / 255
    faded = face * 0.55 + 255 * 0.45  # faint photo, strong outline
    return (faded * (1 - a) + line[..., :3] * a).astype(np.uint8)


def overlay_image(store: Store, analyzer: Analyzer, photo: TimelinePhoto, *, actor: Actor) -> np.ndarray:
    """Regions and the hemoglobin heat map of one stored photo (analysed again with its maps)."""
    result = analyzer.analyze(_stored_bytes(store, photo, actor), name=photo.file, keep_maps=True)
    if not result.ok:
        raise StoreError(photo.file, result.error or "could not be analysed", "choose another photo")
    return render_overlay(result)
