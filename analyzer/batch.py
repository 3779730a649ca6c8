"""``python -m analyzer batch``: import many photos, analysed in parallel on Dask distributed.

Design (docs/batch.md): the client enumerates the files, hashes them (SHA-256 of the original
bytes, cheap I/O) and skips every photo the patient already has analysed by the current analyzer
version *before* submitting anything.  Dask workers (processes, one thread each) read a photo,
check its hash, analyse it with a worker-local cached :class:`~analyzer.pipeline.Analyzer` (the
landmark model is loaded once per worker process) and return the result and the stripped stored
copy.  The client is the **single writer**: as each task completes it writes the stored copy
atomically and commits the photo and its analysis in one transaction, exactly like
:func:`analyzer.store.import_photos`.  A killed client leaves only committed photos (plus at most
an orphan stored file, reused later); a killed worker has its tasks rescheduled by Dask
(``retries`` on submit as well).

Exit status of the command: 0 when every photo is stored and analysed, 1 when some failed (each
failure is recorded in the store with its reason and listed at the end), 2 for usage errors.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

from . import _version
from .errors import AnalyzerError
from .result import PhotoResult

__all__ = ["BatchInterrupted", "BatchTask", "analyse_on_worker", "run_batch", "run_batch_command", "worker_peak_rss_mb"]

DEFAULT_WORKERS = 2
RETRIES = 2
"""Extra attempts per photo when a task raises or its worker dies (Dask also reschedules the
tasks of a lost worker on its own, up to ``distributed.scheduler.allowed-failures``)."""
IN_FLIGHT_PER_WORKER = 4
"""At most this many submitted-but-uncommitted photos per worker: bounds client memory."""

_ANALYZER = None  # the per-process cached Analyzer (one per Dask worker process)


@dataclass(frozen=True)
class BatchTask:
    """One photo to analyse on a worker.

    Attributes
    ----------
    source : str
        The file as given (workers must see the same path: a shared or local file system).
    sha256 : str
        The hash the client computed; the worker refuses a file that changed since.
    """

    source: str
    sha256: str


class BatchInterrupted(AnalyzerError):
    """The Dask cluster failed part-way through a batch (scheduler gone, workers unable to run
    the analyzer).  The photos committed before are kept; ``summary`` says what was done."""

    def __init__(self, file: str, cause: str, fix: str, summary) -> None:
        super().__init__(file, cause, fix)
        self.summary = summary


def _worker_analyzer():
    """The Analyzer of this process: loaded on its first photo, closed by the worker plugin when
    the worker shuts down (``atexit`` as a fallback)."""
    global _ANALYZER
    if _ANALYZER is None:
        import cv2

        from .pipeline import Analyzer

        # One worker process per core: OpenCV's own thread pool would make each analysis use
        # about 1.25 cores and the processes fight over them (bench/batch.py, docs/batch.md).
        cv2.setNumThreads(1)
        _ANALYZER = Analyzer().__enter__()
        atexit.register(_close_worker_analyzer)
    return _ANALYZER


def _close_worker_analyzer() -> None:
    global _ANALYZER
    if _ANALYZER is not None:
        try:
            _ANALYZER.close()
        except RuntimeError:  # MediaPipe's executor may already be shut down at exit: nothing to free
            pass
        _ANALYZER = None


def _model_plugin():
    """A Dask worker plugin that closes the cached Analyzer when the worker shuts down (at
    interpreter exit MediaPipe's executor is already gone and closing it then fails noisily)."""
    from distributed import WorkerPlugin

    class ModelPlugin(WorkerPlugin):
        name = "analyzer-model"

        def teardown(self, worker) -> None:
            _close_worker_analyzer()

    return ModelPlugin()


def _picklable(result: PhotoResult) -> PhotoResult:
    """The result without maps and with plain dicts (``MappingProxyType`` does not pickle)."""
    return dataclasses.replace(result, regions=dict(result.regions), skin_fraction=dict(result.skin_fraction),
                               maps=None)


def _frozen(result: PhotoResult) -> PhotoResult:
    return dataclasses.replace(result, regions=MappingProxyType(dict(result.regions)),
                               skin_fraction=MappingProxyType(dict(result.skin_fraction)))


def analyse_on_worker(task: BatchTask) -> dict[str, Any]:
    """Read, check, analyse and strip one photo (runs on a Dask worker).

    Parameters
    ----------
    task : BatchTask

    Returns
    -------
    dict
        ``{"source", "sha256", "result": PhotoResult (picklable), "stored": bytes or None,
        "error": str or None}``; ``error`` is the reason when the photo cannot be stored.
        Problems with the photo are returned, not raised; only a crash of the worker (or a bug
        raised from here) makes Dask retry the task.
    """
    from .store.importer import sha256_of, strip_metadata

    label = task.source
    out: dict[str, Any] = {"source": label, "sha256": task.sha256, "result": None, "stored": None, "error": None}
    try:
        data = Path(label).read_bytes()
    except OSError as e:
        out["error"] = (f"{label}: cannot read the file on the worker ({e.strerror or e}). "
                        "Workers must see the same paths as the client: use a shared folder")
        return out
    if sha256_of(data) != task.sha256:
        out["error"] = f"{label}: the file changed during the batch. Run the batch again"
        return out
    try:
        result = _worker_analyzer().analyze(data, name=Path(label).name)
    except AnalyzerError as e:  # e.g. the model is missing on this worker
        result = PhotoResult.failed(label, f"{label}: not analysed on the worker: {e.message}")
    except Exception as e:  # noqa: BLE001 - a bug must not stop the batch
        result = PhotoResult.failed(label, f"{label}: internal error ({type(e).__name__}: {e}); "
                                           "please report it with this photo")
    out["result"] = _picklable(result)
    if not result.ok:
        out["error"] = f"{label}: " + (result.error or "not analysed").removeprefix(f"{Path(label).name}: ")
        return out
    try:
        out["stored"] = strip_metadata(data, label)
    except AnalyzerError as e:
        out["error"] = e.message
    return out


def worker_peak_rss_mb() -> float:
    """Peak resident memory of the calling process in MiB (for ``client.run``)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _commit(store, patient: str, out: dict[str, Any], version: str) -> bool:
    """Stored copy (atomic, already stripped by the worker) then one transaction; False when it
    was already committed."""
    from .store.importer import commit_photo

    return commit_photo(store, patient, out["source"], out["sha256"], _frozen(out["result"]), version,
                        lambda: out["stored"])


def _plan(store, sources: Sequence[str], patient: str, version: str, fail: Callable[[str, str | None, str], None]):
    """Hash every file; returns (tasks with their status, unchanged sources)."""
    from .store.importer import ensure_stored_copy, photo_status, sha256_of
    from .store.importer import strip_metadata

    todo: list[tuple[BatchTask, str]] = []
    unchanged: list[str] = []
    seen: set[str] = set()
    for src in sources:
        label = os.fspath(src)
        try:
            data = Path(label).read_bytes()
        except OSError as e:
            fail(label, None, f"{label}: cannot read the file ({e.strerror or e}). Check the path and permissions")
            continue
        sha = sha256_of(data)
        if sha in seen:  # the same photo under another name: analysed once
            unchanged.append(label)
            continue
        seen.add(sha)
        status = photo_status(store, patient, sha, version)
        if status == "unchanged":
            try:  # the stored copy was lost (e.g. deleted by hand): write it again
                ensure_stored_copy(store, label, sha, lambda: strip_metadata(data, label))
            except AnalyzerError as e:
                fail(label, sha, e.message)
                continue
            unchanged.append(label)
        else:
            todo.append((BatchTask(label, sha), status))
    return todo, unchanged


def run_batch(
    store,
    sources: Sequence[str | os.PathLike],
    *,
    patient: str,
    display_name: str | None = None,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
    progress: bool = True,
    retries: int = RETRIES,
):
    """Import photo files for one patient, analysing them on Dask workers.

    Parameters
    ----------
    store : analyzer.store.db.Store
    sources : sequence of path
        Photo files (the command line expands folders).
    patient : str
        The patient's pseudonym (created if new).
    display_name : str, optional
        The patient's name, stored for the practitioner.
    workers : int
        Worker processes of the LocalCluster started when ``scheduler`` is None.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``; its workers must see the
        photo paths and have the analyzer and its face model installed.
    progress : bool
        Show a progress bar on stderr.
    retries : int
        Extra attempts per photo when its task fails or its worker dies.

    Returns
    -------
    analyzer.store.importer.ImportSummary
        The same summary as ``import``; failures are also recorded in the store.

    Raises
    ------
    BatchInterrupted
        When the cluster fails part-way (its ``summary`` says what was stored before).
    AnalyzerError
        When the cluster cannot be started or reached.
    """
    from .store.importer import ImportSummary, record_failure
    from .store.records import get_or_create_patient

    version = _version.__version__
    with store.sessions.begin() as s:
        get_or_create_patient(s, patient, display_name)
    imported: list[str] = []
    reanalysed: list[str] = []
    failed: list[tuple[str, str]] = []

    def fail(label: str, sha: str | None, reason: str) -> None:
        record_failure(store, patient, label, sha, reason, version)
        failed.append((label, reason))

    def store_one(out: dict[str, Any], status: str, error: str | None) -> None:
        label = out["source"]
        if error is None:
            error = out["error"]
        if error is None:
            try:
                committed = _commit(store, patient, out, version)
            except AnalyzerError as e:
                error = e.message
            else:
                if not committed:  # another import stored it meanwhile
                    unchanged.append(label)
                else:
                    (imported if status == "new" else reanalysed).append(label)
                return
        fail(label, out["sha256"], error)

    todo, unchanged = _plan(store, sources, patient, version, fail)
    if todo:
        with _client(workers, scheduler) as client:
            client.register_plugin(_model_plugin(), name="analyzer-model")
            n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})) or workers)
            results = _results(client, todo, n_workers * IN_FLIGHT_PER_WORKER, retries, progress)
            done = 0
            try:
                for out, status, error in results:
                    done += 1
                    store_one(out, status, error)
            except _ClusterLost as e:
                where = scheduler or f"the local cluster of {workers} workers"
                raise BatchInterrupted(
                    where, f"the Dask cluster failed after {done} of {len(todo)} photos ({e})",
                    "The photos stored so far are kept. Check that the scheduler and its workers are "
                    "running, with this analyzer installed in the same Python environment, then run "
                    "the batch again: it goes on where it stopped",
                    ImportSummary(tuple(imported), tuple(reanalysed), tuple(unchanged), tuple(failed))) from e
    return ImportSummary(tuple(imported), tuple(reanalysed), tuple(unchanged), tuple(failed))


class _ClusterLost(Exception):
    """The cluster, not a photo, failed: stop the batch (the committed photos stay)."""


def _first_sentence(e: BaseException) -> str:
    """The first sentence of an exception's message, on one line (Dask's are long)."""
    text = " ".join(str(e).split())
    end = text.find(". ")
    return (text[: end + 1] if end >= 0 else text) or "no details"


def _results(client, todo, window: int, retries: int, progress: bool):
    """Submit with at most ``window`` in flight; yield (output, status, error) as they finish."""
    from distributed import KilledWorker, as_completed
    from tqdm import tqdm

    pending = iter(todo)
    meta: dict[str, tuple[BatchTask, str]] = {}

    def submit():
        item = next(pending, None)
        if item is None:
            return None
        task, status = item
        fut = client.submit(analyse_on_worker, task, key=f"analyse-{task.sha256}-{len(meta)}",
                            retries=retries, pure=False)
        meta[fut.key] = (task, status)
        return fut

    first = [f for f in (submit() for _ in range(window)) if f is not None]
    queue = as_completed(first)
    with tqdm(total=len(todo), desc="analysing", unit="photo", file=sys.stderr, disable=not progress) as bar:
        for fut in queue:
            task, status = meta.pop(fut.key)
            try:
                out, error = fut.result(), None
            except KilledWorker as e:  # this photo's tasks kept killing workers
                out = {"source": task.source, "sha256": task.sha256, "error": None}
                error = (f"{task.source}: not analysed: the worker analysing it died {retries + 1} times "
                         f"({type(e).__name__}). Import this photo alone; if it fails again, report it")
            except Exception as e:  # noqa: BLE001 - the cluster itself: scheduler gone, mismatched environment
                raise _ClusterLost(f"{type(e).__name__}: {_first_sentence(e)}") from e
            fut.release()
            try:
                nxt = submit()
            except Exception as e:  # noqa: BLE001 - e.g. the client lost its scheduler
                raise _ClusterLost(f"{type(e).__name__}: {_first_sentence(e)}") from e
            if nxt is not None:
                queue.add(nxt)
            yield out, status, error
            bar.update(1)


class _client:
    """A Dask client on a new LocalCluster (processes, one thread each) or on ``scheduler``."""

    def __init__(self, workers: int, scheduler: str | None):
        self.workers, self.scheduler = workers, scheduler
        self.cluster = self.client = None

    def __enter__(self):
        from distributed import Client, LocalCluster

        # A lost scheduler is reported once, in plain words, by run_batch; the client's own
        # reconnection tracebacks would only bury that message.
        self._log = logging.getLogger("distributed.client")
        self._level = self._log.level
        self._log.setLevel(logging.CRITICAL)

        try:
            if self.scheduler:
                # connect timeout: Dask's distributed.comm.timeouts.connect (default 30 s)
                self.client = Client(self.scheduler)
            else:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except (OSError, TimeoutError) as e:
            self.__exit__()
            where = self.scheduler or f"a local cluster of {self.workers} workers"
            raise AnalyzerError(where, f"cannot start or reach the Dask cluster ({type(e).__name__}: {e})",
                                "check --scheduler tcp://HOST:PORT and that the scheduler is running") from e
        return self.client

    def __exit__(self, *exc) -> None:
        try:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self._log.setLevel(self._level)


def _usage(msg: str) -> int:
    print(f"python -m analyzer batch: error: {msg}", file=sys.stderr)
    return 2


def run_batch_command(args, out: TextIO) -> int:
    """Run ``batch`` from parsed arguments; returns the exit status."""
    if args.workers < 1:
        return _usage(f"--workers {args.workers}: give at least 1")
    if args.needle_depth is not None and not args.treated_at:
        return _usage("--needle-depth needs --treated-at")
    treatment = None
    if args.treated_at:
        try:
            when = datetime.fromisoformat(args.treated_at.strip())
        except ValueError:
            return _usage(f"--treated-at '{args.treated_at}' is not ISO 8601; write it like 2026-11-03T09:00+01:00")
        from .recovery.treatment import Treatment

        try:
            treatment = Treatment(when, needle_depth_mm=1.0 if args.needle_depth is None else args.needle_depth)
        except AnalyzerError as e:
            return _usage(e.message)
    from .recovery.cli import collect_photos
    from .store.db import open_store
    from .store.records import add_treatment

    try:
        files = collect_photos(args.paths)
    except OSError as e:
        return _usage(f"cannot list {e.filename} ({e.strerror}); check the folder")
    try:
        with open_store(args.db) as store:
            summary = run_batch(store, files, patient=args.patient, display_name=args.name,
                                workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress)
            if treatment is not None:
                add_treatment(store, args.patient, treatment)
    except BatchInterrupted as e:
        out.write(e.summary.format())
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    out.write(summary.format())
    return 0 if summary.ok else 1
