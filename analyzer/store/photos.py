"""Persisting photos: their status, the stored copy, the photo + analysis + observation rows,
and import failures.

The steps of an import (hash, check, analyse, store) are run by :mod:`analyzer.service.imports`;
this module only reads and writes the store.  Crash safety comes from the order the use case
keeps: the stored copy is written atomically (temp file + ``os.replace``) before one transaction
adds the photo row (if new) and the analysis with its observations.  A crash at any point leaves
either nothing or an orphan stored file, which is harmless and reused by the next run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from .._files import write_atomically
from ..errors import AnalyzerError
from ..intake.stored import STORED_SUFFIX
from ..result import PhotoResult
from ..vocab import METRICS, REGION_KEYS
from .db import Store
from .models import Analysis, ImportFailure, Observation, Photo
from .records import get_or_create_patient, now, wall_clock

__all__ = [
    "commit_photo",
    "ensure_stored_copy",
    "observation_rows",
    "photo_status",
    "record_failure",
    "sha256_of",
]

_METHOD_UNIT = {m.key: (m.method, m.unit) for m in METRICS}


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (a photo is known by the hash of its original bytes)."""
    return hashlib.sha256(data).hexdigest()


def photo_status(store: Store, pseudonym: str, sha: str, version: str) -> str:
    """``"new"``, ``"stale"`` (stored, not analysed by ``version``) or ``"unchanged"``."""
    with store.sessions() as s:
        row = s.execute(
            select(Photo.id, Analysis.analyzer_version)
            .join(Photo.patient)
            .outerjoin(Analysis, (Analysis.photo_id == Photo.id) & (Analysis.analyzer_version == version))
            .where(Photo.sha256 == sha)
            .where(Photo.patient.has(pseudonym=pseudonym))
        ).first()
    if row is None:
        return "new"
    return "unchanged" if row[1] is not None else "stale"


def record_failure(store: Store, pseudonym: str, source: str, sha: str | None, reason: str, version: str) -> None:
    """Record that ``source`` could not be imported, with its reason (one transaction).  An
    earlier failure of the same photo (same bytes, or the same path when it could not be read)
    is replaced, so a photo that fails on every run is listed once, with its latest reason."""
    with store.sessions.begin() as s:
        patient = get_or_create_patient(s, pseudonym)
        same = ImportFailure.sha256 == sha if sha is not None else ImportFailure.source == source
        s.execute(delete(ImportFailure).where(ImportFailure.patient_id == patient.id, same))
        s.add(ImportFailure(patient_id=patient.id, source=source, sha256=sha, reason=reason,
                            analyzer_version=version, failed_at=now()))


def ensure_stored_copy(store: Store, label: str, sha: str, stored: Callable[[], bytes]) -> str:
    """Write ``photos/<sha>.jpg`` atomically unless present; returns the path relative to the
    data directory.  ``stored()`` gives the metadata-free copy
    (:func:`analyzer.intake.stored_copy`) and is only called when the file is missing.  An
    orphan from a crashed run has the same content and is reused.

    Raises
    ------
    AnalyzerError
        When ``stored()`` raises it, or the file cannot be written.
    """
    rel = f"photos/{sha}{STORED_SUFFIX}"
    path = store.data_dir / rel
    if not path.exists():
        try:
            write_atomically(path, stored())
        except OSError as e:
            raise AnalyzerError(label, f"cannot write the stored copy {path} ({e.strerror or e})",
                                "check that the data folder is writable and the disk not full") from e
    return rel


def commit_photo(store: Store, pseudonym: str, label: str, sha: str, result: PhotoResult, version: str,
                 stored: Callable[[], bytes]) -> bool:
    """Write the stored copy, then commit photo + analysis in one transaction (and forget an
    earlier failure of this photo); False when a concurrent import committed the same photo and
    version first (the unique constraints refuse a duplicate).

    Raises
    ------
    AnalyzerError
        When the stored copy cannot be made or written (nothing is committed then).
    """
    rel = ensure_stored_copy(store, label, sha, stored)
    try:
        commit_rows(store, pseudonym, label, sha, rel, result, version)
    except IntegrityError:
        return False
    return True


def commit_rows(store: Store, pseudonym: str, label: str, sha: str, rel: str, result: PhotoResult,
                version: str) -> None:
    """One transaction: the photo row (if new), its analysis and observations; the patient's
    recorded failure of this photo is deleted.  ``rel`` is the stored copy, already written."""
    with store.sessions.begin() as s:
        patient = get_or_create_patient(s, pseudonym)
        photo = s.scalar(select(Photo).where(Photo.patient_id == patient.id, Photo.sha256 == sha))
        if photo is None:
            captured, offset = wall_clock(result.captured_at)
            photo = Photo(patient_id=patient.id, sha256=sha, captured_at=captured, utc_offset_min=offset,
                          original_name=Path(label).name, stored_path=rel, width=result.width,
                          height=result.height, imported_at=now())
            s.add(photo)
            s.flush()
        analysis = _analysis(result, version)
        photo.analyses.append(analysis)
        s.flush()
        rows = observation_rows(result)
        if rows:
            s.execute(insert(Observation), [dict(r, analysis_id=analysis.id) for r in rows])
        s.execute(delete(ImportFailure).where(ImportFailure.patient_id == patient.id, ImportFailure.sha256 == sha))


def observation_rows(result: PhotoResult) -> list[dict]:
    """The observation rows of ``result`` as plain dicts, for one bulk INSERT (executemany).

    One row per region (``"face"`` first, then :data:`analyzer.vocab.REGION_KEYS`) and finite
    metric, with the metric's method and unit from :data:`analyzer.vocab.METRICS`.  The ORM unit
    of work costs about 15 ms a photo for its ~40 rows, a bulk insert about 1 ms, and the batch
    client commits every photo (bench/batch.py)."""
    rows = []
    metrics = [("face", result.face)] + [(k, result.regions.get(k)) for k in REGION_KEYS]
    for region, m in metrics:
        if m is None:
            continue
        for var, value in m.to_dict().items():
            if value is None:  # missing / not finite: no observation
                continue
            method, unit = _METHOD_UNIT[var]
            rows.append({"region": region, "variable": var, "method": method, "unit": unit, "value": value})
    return rows


def _analysis(result: PhotoResult, version: str) -> Analysis:
    cal = result.calibration
    return Analysis(
        analyzer_version=version,
        analysed_at=now(),
        quality_ok=result.quality.ok,
        quality_issues=[dict(i.to_dict(), blocking=i.blocking) for i in result.quality.issues],
        calibration_method=cal.method if cal else None,
        chart_found=cal.chart_found if cal else None,
        residual_delta_e00=(round(cal.residual_delta_e00, 3) if cal and cal.residual_delta_e00 is not None else None),
        scale_px_per_mm=result.scale_px_per_mm,
        light_reference=result.light_reference.to_dict() if result.light_reference else None,
    )
