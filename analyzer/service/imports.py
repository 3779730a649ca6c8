"""The import use case: putting photos into the store, one set of steps for every way in.

``python -m analyzer import`` (:func:`import_photos`), the dashboard's upload
(:func:`import_photo_bytes`) and the Dask batch (:mod:`analyzer.service.batch`, whose client plans
and commits and whose workers analyse) all run these steps, in this order, per photo:

1. **plan** (:func:`plan_photo`, :func:`plan_import`): read the bytes and hash them (SHA-256 of
   the original file).  A photo the patient already has analysed by the current analyzer
   version is ``unchanged`` (its stored copy is written again if it was lost); a stored photo
   analysed by another version is ``stale`` and analysed again; anything else is ``new``.  The
   same bytes under a second name in one run are analysed once.
2. **analyse** (:func:`analyse_photo`): measure the photo and make its stored copy from the
   pixels that were measured (:func:`analyzer.intake.encode_stored_copy`: a metadata-free JPEG;
   the file is decoded once).  When the patient has a baseline photo (:func:`baseline_copy`:
   the earliest stored photo with a face), a photo saved mirrored relative to it
   (:mod:`analyzer.face.mirror`) is flipped back before it is measured and stored, and gets the
   non-blocking quality note ``mirrored``; the baseline's signature is computed once per
   import call or batch (:func:`baseline_signature`).
3. **commit** (:func:`commit`): write the stored copy atomically, then add the photo (if new),
   the analysis and its observations in one transaction
   (:func:`analyzer.store.photos.commit_photo`).

Before any of this, :func:`import_photos`, :func:`import_photo_bytes` and
:func:`analyzer.service.batch.run_batch` check the acting user (``record.change`` of that
patient) and the patient's care consent (:func:`analyzer.service.consent.require_care_consent`):
without both nothing is read, analysed or stored, and the refusal is audited.  Each import is
audited once (``record.change``, detail ``{"what": "photos", "stored": n, "failed": m}``).

A photo that cannot be read, analysed or stored is recorded in the store with its reason and
the others go on.  A crash at any point leaves either nothing or an orphan stored file, which
the next run reuses.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _version
from ..errors import AnalyzerError
from ..face.mirror import MIRRORED_NOTE, MirrorCheck, is_mirrored, mirror_signature
from ..intake import Photo, encode_stored_copy, load_photo, stored_copy
from ..result import PhotoResult, Quality
from ..settings import DEFAULT, Settings
from ..store.db import Store
from ..store.photos import commit_photo, ensure_stored_copy, photo_status, record_failure, sha256_of
from ..store.query import stored_results
from ..store.records import check_pseudonym, get_or_create_patient
from . import audit
from .access import Actor, check
from .analyzers import LazyAnalyzer, analyse_keeping_photo
from .consent import ConsentRequired, require_care_consent

__all__ = [
    "AnalysedPhoto",
    "ImportPlan",
    "ImportSummary",
    "ImportTask",
    "PhotoOutcome",
    "analyse_photo",
    "audit_import",
    "baseline_copy",
    "baseline_signature",
    "commit",
    "gate",
    "import_photo_bytes",
    "import_photos",
    "plan_import",
    "plan_photo",
]

OUTCOMES = ("imported", "reanalysed", "unchanged", "failed")
"""The statuses of :class:`PhotoOutcome`, in the order :class:`ImportSummary` lists them."""


@dataclass(frozen=True)
class ImportTask:
    """A photo that needs analysis.

    Attributes
    ----------
    source : str
        The file or name as given (a Dask worker must see the same path).
    sha256 : str
        The hash of the bytes that were planned; a worker refuses a file that changed since.
    status : {"new", "stale"}
        New to the patient, or stored and analysed by another analyzer version.
    """

    source: str
    sha256: str
    status: str = "new"


@dataclass(frozen=True)
class AnalysedPhoto:
    """What the analyse step gives (what a Dask worker sends back).

    Attributes
    ----------
    result : PhotoResult or None
        The analysis (None when the photo was never analysed, e.g. unreadable on a worker).
    stored : bytes or None
        The stored copy, when the photo can be stored.
    error : str or None
        Why the photo cannot be stored, in one line naming the file and the fix.
    mirror : MirrorCheck or None
        The comparison with the patient's baseline (None when there was none to compare with);
        when ``mirror.mirrored`` the photo was flipped back before it was measured and stored.
    """

    result: PhotoResult | None
    stored: bytes | None = None
    error: str | None = None
    mirror: MirrorCheck | None = None


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

    @classmethod
    def of(cls, outcomes: Iterable[PhotoOutcome]) -> "ImportSummary":
        """The summary of these outcomes, each list in the order given.

        >>> ImportSummary.of([PhotoOutcome("a.jpg", "imported"), PhotoOutcome("b.jpg", "failed", reason="b.jpg: bad")])
        ImportSummary(imported=('a.jpg',), reanalysed=(), unchanged=(), failed=(('b.jpg', 'b.jpg: bad'),))
        """
        by: dict[str, list] = {k: [] for k in OUTCOMES}
        for o in outcomes:
            by[o.status].append((o.source, o.reason) if o.status == "failed" else o.source)
        return cls(*(tuple(by[k]) for k in OUTCOMES))

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


@dataclass(frozen=True)
class ImportPlan:
    """The photos of one import sorted out before any analysis.

    Attributes
    ----------
    tasks : tuple of ImportTask
        Photos to analyse, in the order given.
    done : tuple of PhotoOutcome
        Photos settled while planning: ``unchanged``, or ``failed`` (unreadable, or a lost
        stored copy that could not be written again); failures are recorded in the store.
    """

    tasks: tuple[ImportTask, ...]
    done: tuple[PhotoOutcome, ...]


# --- 1. plan -------------------------------------------------------------------------------------


def _failed(store: Store, patient: str, label: str, sha: str | None, reason: str, version: str,
            result: PhotoResult | None = None) -> PhotoOutcome:
    record_failure(store, patient, label, sha, reason, version)
    return PhotoOutcome(label, "failed", sha, result, reason)


def plan_photo(store: Store, patient: str, label: str, data: bytes, version: str, *,
               settings: Settings = DEFAULT, sha: str | None = None) -> ImportTask | PhotoOutcome:
    """Plan one photo given as bytes: the task to analyse it, or its outcome when nothing is
    left to do.

    Parameters
    ----------
    store : Store
    patient : str
        The patient's pseudonym.
    label : str
        The file name or path, for the store and for messages.
    data : bytes
        The original file.
    version : str
        The analyzer version whose analysis counts (normally ``analyzer.__version__``).
    settings : Settings
        Those of the analysis, for a lost stored copy written again.
    sha : str, optional
        ``sha256_of(data)`` when already known.

    Returns
    -------
    ImportTask or PhotoOutcome
        A task (``new`` or ``stale``); or an ``unchanged`` outcome, or a ``failed`` one (recorded)
        when the lost stored copy of an unchanged photo cannot be written again.
    """
    sha = sha or sha256_of(data)
    status = photo_status(store, patient, sha, version)
    if status != "unchanged":
        return ImportTask(label, sha, status)
    try:  # the stored copy was lost (e.g. deleted by hand): write it again
        ensure_stored_copy(store, label, sha, lambda: stored_copy(data, name=label, settings=settings))
    except AnalyzerError as e:
        return _failed(store, patient, label, sha, e.message, version)
    return PhotoOutcome(label, "unchanged", sha)


def _planned(store: Store, sources: Iterable[str | os.PathLike], patient: str, display_name: str | None,
             version: str, settings: Settings, done: list[PhotoOutcome]) -> Iterator[tuple[ImportTask, bytes]]:
    """Create or update the patient, then read, hash and plan each source in turn; yields each
    task with its bytes and appends every settled photo's outcome to ``done``."""
    with store.sessions.begin() as s:
        get_or_create_patient(s, patient, display_name)
    seen: set[str] = set()
    for src in sources:
        label = os.fspath(src)
        try:
            data = Path(label).read_bytes()
        except OSError as e:
            done.append(_failed(store, patient, label, None,
                                f"{label}: cannot read the file ({e.strerror or e}). Check the path and permissions",
                                version))
            continue
        sha = sha256_of(data)
        if sha in seen:  # the same photo under another name: analysed once
            done.append(PhotoOutcome(label, "unchanged", sha))
            continue
        seen.add(sha)
        step = plan_photo(store, patient, label, data, version, settings=settings, sha=sha)
        if isinstance(step, ImportTask):
            yield step, data
        else:
            done.append(step)


def plan_import(store: Store, sources: Sequence[str | os.PathLike], patient: str, version: str, *,
                display_name: str | None = None, settings: Settings = DEFAULT) -> ImportPlan:
    """Plan the import of photo files for one patient (created if new) without analysing any.

    Every file is read and hashed once; only the tasks (no bytes) are kept, so a batch of
    thousands of photos plans in little memory.  Failures are recorded in the store.

    Returns
    -------
    ImportPlan
    """
    done: list[PhotoOutcome] = []
    tasks = tuple(task for task, _data in _planned(store, sources, patient, display_name, version, settings, done))
    return ImportPlan(tasks, tuple(done))


# --- 2. analyse ----------------------------------------------------------------------------------


def _open(analyzer):
    """The open :class:`~analyzer.pipeline.Analyzer` behind ``analyzer`` (a LazyAnalyzer loads
    its model now; raises AnalyzerError when it cannot)."""
    return analyzer.analyzer() if isinstance(analyzer, LazyAnalyzer) else analyzer


def _signature(photo: Photo, analyzer) -> np.ndarray:
    """:func:`~analyzer.face.mirror.mirror_signature` of a decoded photo (its landmarks found
    by the analyzer's model).  Raises AnalyzerError (e.g. no face)."""
    face = _open(analyzer).landmarker.detect(photo.pixels, name=photo.name)
    return mirror_signature(photo.pixels, face.points)


def baseline_copy(store: Store, patient: str) -> Path | None:
    """The stored copy of the patient's baseline photo: the earliest stored photo (capture
    order; undated photos last) whose analysis has a face value, or None when there is none.

    The stored copy holds the pixels that were measured, so a baseline that was itself flipped
    back is the right way round.
    """
    try:
        photos = stored_results(store, patient)
    except AnalyzerError:  # no such patient yet
        return None
    for p in photos:
        if p.result.face is not None:
            path = store.data_dir / p.stored_path
            return path if path.is_file() else None
    return None


def baseline_signature(path: str | os.PathLike | None, analyzer) -> np.ndarray | None:
    """The mirror signature of a baseline photo's stored copy (:func:`baseline_copy`), or None
    when there is no baseline or it cannot be read or its face cannot be found (then nothing is
    checked).

    Parameters
    ----------
    path : path or None
    analyzer : Analyzer or LazyAnalyzer
        Its landmark model finds the face (loaded now if needed).
    """
    if path is None:
        return None
    try:
        photo = load_photo(path, settings=analyzer.settings, name=Path(path).name)
        return _signature(photo, analyzer)
    except AnalyzerError:
        return None


def _facing_baseline(data: bytes, name: str, analyzer,
                     baseline: np.ndarray) -> tuple[Photo | bytes, MirrorCheck | None]:
    """The photo to measure, decoded once: flipped back when it is mirrored relative to
    ``baseline``; the bytes themselves when it cannot be decoded or has no face (the analysis
    then reports why, in its usual words)."""
    try:
        photo = load_photo(data, settings=analyzer.settings, name=name)
        check = is_mirrored(_signature(photo, analyzer), baseline)
    except AnalyzerError:
        return data, None
    if not check.mirrored:
        return photo, check
    flipped = np.ascontiguousarray(photo.pixels[:, ::-1])
    flipped.setflags(write=False)  # as load_photo leaves its pixels
    return dataclasses.replace(photo, pixels=flipped), check


def analyse_photo(data: bytes, label: str, analyzer, *, keep_maps: bool = False,
                  baseline: np.ndarray | None = None) -> AnalysedPhoto:
    """Analyse one photo and make its stored copy (a Dask worker runs this for the batch).

    Parameters
    ----------
    data : bytes
        The original file.
    label : str
        Its name or path, as given (messages name it; the result names the file alone).
    analyzer : Analyzer or LazyAnalyzer
        An open analyzer.  The stored copy is encoded from the photo it decoded and measured
        (:func:`analyzer.intake.encode_stored_copy`): the file is decoded once.
    keep_maps : bool
        Keep the per-pixel maps in the result (the upload page shows them).
    baseline : ndarray, optional
        The mirror signature of the patient's baseline photo (:func:`baseline_signature`).
        When given, a photo saved mirrored relative to it (:func:`analyzer.face.mirror.is_mirrored`)
        is flipped back before it is measured and stored, and its result gets the non-blocking
        quality note ``mirrored``.  The decision depends only on the two photos, so analysing
        the same photo again gives the same answer.

    Returns
    -------
    AnalysedPhoto
        ``error`` set (and ``stored`` None) when the photo cannot be stored: not analysed, or
        no stored copy could be made.  Never raises for a problem with the photo.
    """
    name = Path(label).name
    source: Photo | bytes = data
    check = None
    if baseline is not None:
        source, check = _facing_baseline(data, name, analyzer, baseline)
    result, photo = analyse_keeping_photo(analyzer, source, name=name, keep_maps=keep_maps)
    if check is not None and check.mirrored and result.ok:
        result = dataclasses.replace(result, quality=Quality(result.quality.issues + (MIRRORED_NOTE,)))
    if not result.ok or photo is None:
        why = (result.error or "not analysed").removeprefix(f"{name}: ")
        return AnalysedPhoto(result, None, f"{label}: {why}", check)
    try:
        stored = encode_stored_copy(photo)  # the measured pixels, not a second decode
    except Exception as e:  # noqa: BLE001 - a bug must not stop the batch
        return AnalysedPhoto(result, None, f"{label}: cannot make the stored copy ({type(e).__name__}: {e}); "
                                           "please report it with this photo", check)
    return AnalysedPhoto(result, stored, None, check)


# --- 3. commit -----------------------------------------------------------------------------------


def commit(store: Store, patient: str, task: ImportTask, analysed: AnalysedPhoto, version: str) -> PhotoOutcome:
    """Store one analysed photo: the stored copy, then photo + analysis in one transaction; or
    record why it cannot be stored.

    Returns
    -------
    PhotoOutcome
        ``imported`` or ``reanalysed`` (from ``task.status``); ``unchanged`` when another import
        committed the same photo and version meanwhile; ``failed`` with the reason, recorded.
    """
    label, sha = task.source, task.sha256
    error = analysed.error
    if error is None and analysed.stored is None:
        error = f"{label}: not analysed"
    if error is None:
        try:
            committed = commit_photo(store, patient, label, sha, analysed.result, version, lambda: analysed.stored)
        except AnalyzerError as e:
            error = e.message
        else:
            if not committed:
                return PhotoOutcome(label, "unchanged", sha, analysed.result)
            return PhotoOutcome(label, "imported" if task.status == "new" else "reanalysed", sha, analysed.result)
    return _failed(store, patient, label, sha, error, version, analysed.result)


# --- the whole import ----------------------------------------------------------------------------


def gate(store: Store, patient: str, actor: Actor) -> None:
    """Go on when ``actor`` may change the patient's record and the patient has an open care
    consent; otherwise raise (and audit the refusal) before anything is read or analysed.

    Raises
    ------
    StoreError
        For a pseudonym that is not one (:func:`analyzer.store.records.check_pseudonym`).
    PermissionDenied
        Unless ``actor`` may change the patient's record (``record.change``).
    ConsentRequired
        When the patient has no open care consent (or is not in the store).
    """
    check_pseudonym(patient)
    check(store, actor, "record.change", patient)
    try:
        require_care_consent(store, patient)
    except ConsentRequired:
        audit.record(store, actor, "record.change", patient=patient, outcome="denied",
                     detail={"what": "photos", "reason": "no care consent"})
        raise


def audit_import(store: Store, patient: str, actor: Actor, stored: int, failed: int) -> None:
    """The import's one audit line (``record.change``, what: photos)."""
    audit.record(store, actor, "record.change", patient=patient,
                 detail={"what": "photos", "stored": stored, "failed": failed})


def import_photo_bytes(store: Store, patient: str, label: str, data: bytes, analyzer, *, actor: Actor,
                       version: str | None = None, keep_maps: bool = False) -> PhotoOutcome:
    """Import one photo given as bytes (an upload, or a file already read): check
    (:func:`gate`), plan, analyse, commit; a failure is recorded with its reason.

    Parameters
    ----------
    store : Store
    patient : str
        The patient's pseudonym (in the store, with care consent).
    label : str
        The photo's file name.
    data : bytes
    analyzer : Analyzer or LazyAnalyzer
        Open, or opened on demand.
    version : str, optional
        Default: the running analyzer's version.
    keep_maps : bool
        Keep the per-pixel maps in ``outcome.result``.
    actor : Actor
        The acting user.

    Raises
    ------
    PermissionDenied, ConsentRequired
        From :func:`gate`, before the photo is read.
    """
    gate(store, patient, actor)
    version = version or _version.__version__
    step = plan_photo(store, patient, label, data, version, settings=analyzer.settings)
    if not isinstance(step, PhotoOutcome):
        baseline = baseline_signature(baseline_copy(store, patient), analyzer)
        step = commit(store, patient, step,
                      analyse_photo(data, label, analyzer, keep_maps=keep_maps, baseline=baseline), version)
    audit_import(store, patient, actor, int(step.status in ("imported", "reanalysed")),
                 int(step.status == "failed"))
    return step


def import_photos(
    store: Store,
    sources: Sequence[str | os.PathLike],
    patient: str,
    *,
    actor: Actor,
    display_name: str | None = None,
    analyzer=None,
) -> ImportSummary:
    """Import photo files for one patient; each photo is committed on its own.

    Parameters
    ----------
    store : Store
    sources : sequence of path
        Photo files (folders are expanded by :func:`analyzer.service.sources.collect_photos`).
    patient : str
        The patient's pseudonym (in the store, with care consent: :func:`gate`).
    actor : Actor
        The acting user.
    display_name : str, optional
        The patient's name, stored for the practitioner and never exported de-identified.
    analyzer : analyzer.pipeline.Analyzer, optional
        An open analyzer to reuse; by default one is opened when a photo needs analysis
        (:class:`~analyzer.service.analyzers.LazyAnalyzer`), so a rerun never loads the model.

    Returns
    -------
    ImportSummary

    Raises
    ------
    PermissionDenied, ConsentRequired
        From :func:`gate`, before any file is read.

    Notes
    -----
    The baseline of the mirror check (:func:`baseline_copy`) is looked up when the first photo
    needs analysis, and its signature computed once; a patient without one gets as baseline the
    first photo this import stores with a face.
    """
    gate(store, patient, actor)
    version = _version.__version__
    outcomes: list[PhotoOutcome] = []
    baseline: np.ndarray | None = None
    tried: Path | None = None
    with LazyAnalyzer(analyzer) as lazy:
        for task, data in _planned(store, sources, patient, display_name, version, lazy.settings, outcomes):
            if baseline is None and (path := baseline_copy(store, patient)) != tried:
                tried, baseline = path, baseline_signature(path, lazy)
            analysed = analyse_photo(data, task.source, lazy, baseline=baseline)
            outcomes.append(commit(store, patient, task, analysed, version))
    summary = ImportSummary.of(outcomes)
    audit_import(store, patient, actor, len(summary.imported) + len(summary.reanalysed), len(summary.failed))
    return summary
