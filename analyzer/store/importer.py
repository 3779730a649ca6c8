"""Idempotent, crash-safe import of photos into the store.

Per photo, in this order: read the bytes and hash them (SHA-256); skip when the patient already
has this photo analysed by the current analyzer version; analyse; write the stripped copy
atomically (temp file + ``os.replace``) unless it is already there; then one transaction adds
the photo row (if new) and the analysis with its observations.  A crash at any point leaves
either nothing or an orphan stored file, which is harmless and reused by the next run.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import _version
from ..errors import AnalyzerError
from ..result import REGION_KEYS, PhotoResult
from .db import Store
from .models import Analysis, ImportFailure, Observation, Photo
from .records import get_or_create_patient, now, wall_clock
from .._files import write_atomically

__all__ = [
    "REGIONS",
    "STORED_SUFFIX",
    "VARIABLES",
    "ImportSummary",
    "PhotoOutcome",
    "commit_photo",
    "ensure_stored_copy",
    "import_photo_bytes",
    "import_photos",
    "photo_status",
    "record_failure",
    "sha256_of",
    "strip_metadata",
]

VARIABLES: dict[str, tuple[str, str]] = {
    "redness": ("erythema_index_100log10RG", "unitless"),
    "hemoglobin": ("tsumura_1999", "ln_optical_density"),
    "melanin": ("tsumura_1999", "ln_optical_density"),
    "a_star": ("cielab_a_star_d65", "unitless"),
    "texture": ("highpass_lnY_sigma1mm", "percent"),
    "flaking": ("bright_specks_0.3_2mm", "per_cm2"),
}
"""variable -> (method, unit) of the observations (docs/metrics.md, docs/data-dictionary.md)."""

REGIONS = ("face",) + REGION_KEYS
"""Allowed ``region`` values: the area-weighted face value and the anatomical regions."""

STORED_SUFFIX = ".jpg"
STORED_QUALITY = 95


@dataclass(frozen=True)
class ImportSummary:
    """What one import did.

    Attributes
    ----------
    imported : tuple of str
        Sources that became new photos.
    reanalysed : tuple of str
        Photos already stored, analysed again because the analyzer version changed.
    unchanged : tuple of str
        Photos already stored and analysed by this version (nothing done).
    failed : tuple of (str, str)
        (source, reason) of photos that could not be imported; also recorded in the store.
    """

    imported: tuple[str, ...] = ()
    reanalysed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """True when every photo is stored and analysed."""
        return not self.failed

    def format(self) -> str:
        """A few plain lines for the terminal."""
        lines = [
            (f"imported {len(self.imported)}, re-analysed {len(self.reanalysed)}, "
             f"unchanged {len(self.unchanged)}, failed {len(self.failed)}")
        ]
        lines += [f"  FAILED {reason}" for _src, reason in self.failed]
        return "\n".join(lines) + "\n"


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - HEIC then fails to open, which is reported
        return
    register_heif_opener()


def strip_metadata(data: bytes, name: str) -> bytes:
    """Re-encode a photo as a high-quality sRGB JPEG with **no** metadata.

    The pixels are turned upright (EXIF orientation), converted to sRGB from any embedded ICC
    profile, and written without EXIF (GPS, maker notes), XMP, ICC or comments.

    Raises
    ------
    AnalyzerError
        When the image cannot be decoded.
    """
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            icc = im.info.get("icc_profile")
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = im.point(lambda v: v / 256).convert("L")
            if icc and im.mode in ("RGB", "RGBA", "CMYK"):
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                im = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"),
                                               outputMode="RGB")
            clean = Image.new("RGB", im.size)
            clean.paste(im.convert("RGB"))
    except Exception as e:
        raise AnalyzerError(name, f"cannot re-encode the photo for storage ({type(e).__name__}: {e})",
                            "export it again from the phone as JPEG or PNG") from e
    buf = io.BytesIO()
    clean.save(buf, format="JPEG", quality=STORED_QUALITY, subsampling=0)
    return buf.getvalue()


def _before_commit(session: Session, source: str) -> None:
    """Hook called after the stored file is written and before the transaction commits (tests
    use it to simulate a crash)."""


def _observations(result: PhotoResult) -> list[dict]:
    """The observation rows of ``result`` as plain dicts, for one bulk INSERT (executemany): the
    ORM unit of work costs about 15 ms a photo for its ~40 rows, a bulk insert about 1 ms, and the
    batch client commits every photo (bench/batch.py)."""
    rows = []
    metrics = [("face", result.face)] + [(k, result.regions.get(k)) for k in REGION_KEYS]
    for region, m in metrics:
        if m is None:
            continue
        for var, value in m.to_dict().items():
            if value is None:  # missing / not finite: no observation
                continue
            method, unit = VARIABLES[var]
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
    )


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


@dataclass(frozen=True)
class PhotoOutcome:
    """What importing one photo did.

    Attributes
    ----------
    source : str
        The file name or path as given.
    status : {"imported", "reanalysed", "unchanged", "failed"}
    sha256 : str or None
        The hash of the original bytes (None when the file could not be read).
    result : PhotoResult or None
        The analysis, when one ran (``None`` for ``unchanged`` photos).
    reason : str or None
        Why the photo failed, in plain words, naming the file and the fix.
    """

    source: str
    status: str
    sha256: str | None = None
    result: PhotoResult | None = None
    reason: str | None = None


def import_photo_bytes(store: Store, patient: str, label: str, data: bytes, analyzer, *,
                       version: str | None = None, keep_maps: bool = False) -> PhotoOutcome:
    """Import one photo given as bytes (an upload, or a file already read) for an existing or new
    patient: hash, skip when already analysed by this version, analyse, store; a failure is
    recorded with its reason.  ``analyzer`` is an open :class:`analyzer.pipeline.Analyzer`."""
    version = version or _version.__version__
    sha = sha256_of(data)
    status = photo_status(store, patient, sha, version)
    if status == "unchanged":
        try:  # the stored copy was lost (e.g. deleted by hand): write it again
            ensure_stored_copy(store, label, sha, lambda: strip_metadata(data, label))
        except AnalyzerError as e:
            record_failure(store, patient, label, sha, e.message, version)
            return PhotoOutcome(label, "failed", sha, None, e.message)
        return PhotoOutcome(label, "unchanged", sha)
    try:
        result = analyzer.analyze(data, name=Path(label).name, keep_maps=keep_maps)
    except Exception as e:  # noqa: BLE001 - a bug must not stop the batch
        result = PhotoResult.failed(label, f"{label}: internal error ({type(e).__name__}: {e}); "
                                           "please report it with this photo")
    try:
        if not result.ok:
            raise AnalyzerError(label, (result.error or "not analysed").removeprefix(f"{Path(label).name}: "))
        committed = commit_photo(store, patient, label, sha, result, version, lambda: strip_metadata(data, label))
    except AnalyzerError as e:
        record_failure(store, patient, label, sha, e.message, version)
        return PhotoOutcome(label, "failed", sha, result, e.message)
    if not committed:  # another import stored the same photo meanwhile
        return PhotoOutcome(label, "unchanged", sha, result)
    return PhotoOutcome(label, "imported" if status == "new" else "reanalysed", sha, result)


class _LazyAnalyzer:
    """The given analyzer, or one opened on the first photo that needs analysis (a rerun over
    photos already stored never loads the model) and closed by :meth:`close`."""

    def __init__(self, analyzer=None) -> None:
        self._given, self._own = analyzer, None

    def analyze(self, data: bytes, **kw) -> PhotoResult:
        if self._given is None and self._own is None:
            from ..pipeline import Analyzer

            self._own = Analyzer().__enter__()
        return (self._given or self._own).analyze(data, **kw)

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
            self._own = None


def import_photos(
    store: Store,
    sources: Sequence[str | os.PathLike],
    *,
    patient: str,
    display_name: str | None = None,
    analyzer=None,
) -> ImportSummary:
    """Import photo files for one patient; each photo is committed on its own.

    Parameters
    ----------
    store : Store
    sources : sequence of path
        Photo files (folders are expanded by the command line, not here).
    patient : str
        The patient's pseudonym (created if new).
    display_name : str, optional
        The patient's name, stored for the practitioner and never exported de-identified.
    analyzer : analyzer.pipeline.Analyzer, optional
        An open analyzer to reuse; by default one is opened when a photo needs analysis.

    Returns
    -------
    ImportSummary
    """
    version = _version.__version__
    with store.sessions.begin() as s:
        get_or_create_patient(s, patient, display_name)
    done: dict[str, list] = {"imported": [], "reanalysed": [], "unchanged": [], "failed": []}
    lazy = _LazyAnalyzer(analyzer)
    try:
        for src in sources:
            label = os.fspath(src)
            try:
                data = Path(src).read_bytes()
            except OSError as e:
                reason = f"{label}: cannot read the file ({e.strerror or e}). Check the path and permissions"
                record_failure(store, patient, label, None, reason, version)
                done["failed"].append((label, reason))
                continue
            out = import_photo_bytes(store, patient, label, data, lazy, version=version)
            done[out.status].append((label, out.reason) if out.status == "failed" else label)
    finally:
        lazy.close()
    return ImportSummary(*(tuple(done[k]) for k in ("imported", "reanalysed", "unchanged", "failed")))


def ensure_stored_copy(store: Store, label: str, sha: str, stripped: Callable[[], bytes]) -> str:
    """Write ``photos/<sha>.jpg`` atomically unless present; returns the path relative to the
    data directory.  ``stripped()`` gives the metadata-free copy and is only called when the
    file is missing.  An orphan from a crashed run has the same content and is reused."""
    rel = f"photos/{sha}{STORED_SUFFIX}"
    path = store.data_dir / rel
    if not path.exists():
        try:
            write_atomically(path, stripped())
        except OSError as e:
            raise AnalyzerError(label, f"cannot write the stored copy {path} ({e.strerror or e})",
                                "check that the data folder is writable and the disk not full") from e
    return rel


def commit_photo(store: Store, pseudonym: str, label: str, sha: str, result: PhotoResult, version: str,
                 stripped: Callable[[], bytes]) -> bool:
    """Write the stored copy, then commit photo + analysis in one transaction; False when a
    concurrent import committed the same photo and version first (the unique constraints refuse
    a duplicate).  Used by ``import`` and by the Dask batch (whose workers strip the copy)."""
    rel = ensure_stored_copy(store, label, sha, stripped)
    try:
        _commit_rows(store, pseudonym, label, sha, rel, result, version)
    except IntegrityError:
        return False
    return True


def _commit_rows(store: Store, pseudonym: str, label: str, sha: str, rel: str, result: PhotoResult,
                 version: str) -> None:
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
        rows = _observations(result)
        if rows:
            s.execute(insert(Observation), [dict(r, analysis_id=analysis.id) for r in rows])
        s.execute(delete(ImportFailure).where(ImportFailure.patient_id == patient.id, ImportFailure.sha256 == sha))
        _before_commit(s, label)
