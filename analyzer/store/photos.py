"""Persisting photos: their status, the stored copy, the photo + analysis + observation rows,
and import failures.

The steps of an import (hash, check, analyse, store) are run by :mod:`analyzer.service.imports`;
this module only reads and writes the store.  Crash safety comes from the order the use case
keeps: the stored copy is written atomically (temp file + ``os.replace``) before one transaction
adds the photo row (if new) and the analysis with its observations.  A crash at any point leaves
either nothing or an orphan stored file, which is harmless and reused by the next run
(:func:`orphan_files` lists the files no row refers to, for the admin's sweep).

Stored copies are named by a keyed hash (:func:`stored_name`): ``photos/<32 hex>.jpg``, the
first 128 bits of HMAC-SHA-256 under the store's own key ``stored-names``
(:func:`analyzer.store.secrets.secret`) of the photo's SHA-256.  The plain SHA-256 of the
original upload (which still carries GPS and maker notes) would let anyone holding a candidate
original confirm that it is in the store, or match two stores; the keyed name cannot be
computed without the store's key.  The same bytes still give the same name, so two patients
with the same photo share one file (deletion removes it with the last row that uses it).
Rows made before the keyed names keep their ``stored_path`` (``photos/<sha256>.jpg``): the
path is per row, and the copy of a photo that rows already hold is kept (or written again) at
their path, so one photo never has two files.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from .._files import write_atomically
from ..errors import AnalyzerError, PhotoTooLarge
from ..intake.stored import STORED_SUFFIX
from ..result import PhotoResult
from ..settings import DEFAULT
from ..vocab import METRICS, REGION_KEYS
from .db import Store
from .models import Analysis, ImportFailure, Observation, Photo
from .records import get_or_create_patient, now, wall_clock
from .secrets import secret

__all__ = [
    "ORPHAN_GRACE_S",
    "STORED_NAMES_KEY",
    "commit_photo",
    "ensure_stored_copy",
    "observation_rows",
    "orphan_files",
    "photo_status",
    "record_failure",
    "sha256_of",
    "stored_name",
]

STORED_NAMES_KEY = "stored-names"
"""Name of the store's key (:func:`analyzer.store.secrets.secret`) behind :func:`stored_name`."""

ORPHAN_GRACE_S = 600.0
"""s.  :func:`orphan_files` leaves out files changed less than this long ago: an import writes
the stored copy first and commits its row right after, so a fresh file without a row may be
an import in progress, not an orphan."""

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


def stored_name(store: Store, sha: str) -> str:
    """The path, relative to the data directory, of a new stored copy of the photo ``sha``.

    ``photos/`` + the first 32 hex digits (128 bits) of HMAC-SHA-256(key, the 32 bytes of the
    SHA-256) + ``.jpg``, with the store's own key :data:`STORED_NAMES_KEY`.

    Parameters
    ----------
    store : Store
    sha : str
        Hex SHA-256 of the original file (:func:`sha256_of`).
    """
    digest = hmac.new(secret(store, STORED_NAMES_KEY), bytes.fromhex(sha), hashlib.sha256).hexdigest()
    return f"photos/{digest[:32]}{STORED_SUFFIX}"


def _copy_path(store: Store, sha: str) -> str:
    """Where the copy of photo ``sha`` lives: the path rows of it already hold (rows made before
    the keyed names hold ``photos/<sha256>.jpg``), else :func:`stored_name`."""
    keyed = stored_name(store, sha)
    with store.sessions() as s:
        held = list(s.scalars(select(Photo.stored_path).where(Photo.sha256 == sha).order_by(Photo.id)))
    return keyed if not held or keyed in held else held[0]


_FIX_TOO_LARGE = "take the selfie with the phone's normal camera setting, or resize it"


def _check_stored_copy(label: str, data: bytes) -> None:
    """The copy about to be stored is a JPEG within the selfie pixel cap
    (``Settings.max_upload_pixels``), read from its header (nothing decoded)."""
    cap = DEFAULT.max_upload_pixels
    accepted = f"photos up to {cap / 1e6:g} MP are accepted"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the cap decides
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as im:
                width, height = im.size
    except Image.DecompressionBombError as e:
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise PhotoTooLarge(label, f"the stored copy is over {over:.0f} MP; {accepted}",
                            _FIX_TOO_LARGE) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise AnalyzerError(label, f"the stored copy is not a readable JPEG ({type(e).__name__})",
                            "please report it with this photo") from e
    if width * height > cap:
        mp = f"{width * height / 1e6:.1f}".removesuffix(".0")
        raise PhotoTooLarge(label, f"the stored copy is {mp} MP ({width}\u00d7{height} pixels); {accepted}",
                            _FIX_TOO_LARGE)


def ensure_stored_copy(store: Store, label: str, sha: str, stored: Callable[[], bytes]) -> str:
    """Write the photo's stored copy atomically unless present; returns its path relative to the
    data directory (:func:`stored_name`, or the path rows of this photo already hold).

    ``stored()`` gives the metadata-free copy (:func:`analyzer.intake.stored_copy`) and is only
    called when the file is missing; the copy is checked (a JPEG within
    ``Settings.max_upload_pixels``, from its header) before it is written.  An orphan from a
    crashed run has the same content and is reused.  The file is written 0600 (owner only).

    Raises
    ------
    AnalyzerError
        When ``stored()`` raises it, the copy is over the pixel cap (PhotoTooLarge) or not a
        JPEG, or the file cannot be written.
    """
    rel = _copy_path(store, sha)
    path = store.data_dir / rel
    if not path.exists():
        data = stored()
        _check_stored_copy(label, data)
        try:
            write_atomically(path, data)  # a mkstemp file: mode 0600
        except OSError as e:
            raise AnalyzerError(label, f"cannot write the stored copy {path} ({e.strerror or e})",
                                "check that the data folder is writable and the disk not full") from e
    return rel


def orphan_files(store: Store, *, older_than_s: float = ORPHAN_GRACE_S) -> list[str]:
    """Files under ``photos/`` that no photo row's ``stored_path`` names, relative to the data
    directory (``photos/...``), sorted.

    Left by a crash between writing a stored copy and committing its row, or by a deletion
    interrupted between the commit and the file's removal; the temporary ``.part`` files of an
    interrupted write count too.  Only files are listed (no folders), and only those last
    changed at least ``older_than_s`` seconds ago (default :data:`ORPHAN_GRACE_S`), so an
    import in progress is never taken for an orphan.  Nothing is removed here.

    Parameters
    ----------
    store : Store
    older_than_s : float
        s; 0 lists every unreferenced file.
    """
    folder = store.photo_dir
    if not folder.is_dir():
        return []
    cutoff = time.time() - older_than_s
    on_disk = {
        p.relative_to(store.data_dir).as_posix(): p
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
    with store.sessions() as s:
        used = set(s.scalars(select(Photo.stored_path).distinct()))
    return sorted(rel for rel, p in on_disk.items() if rel not in used and p.stat().st_mtime <= cutoff)


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
