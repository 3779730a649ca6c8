"""The import with the analysis on Dask distributed workers (``python -m analyzer batch``).

Design (docs/batch.md): the client plans the import as :func:`~analyzer.service.imports.plan_import`
does for ``import`` (hashes every file, cheap I/O, and sets aside every photo the patient already
has analysed by the current analyzer version) *before* submitting anything.  Dask workers
(processes, one thread each) read a photo, check its hash and run the same analyse step
(:func:`~analyzer.service.imports.analyse_photo`) with the process's shared
:class:`~analyzer.pipeline.Analyzer` (:func:`~analyzer.pipeline.shared_analyzer`: the landmark
model is loaded once per worker process), and return the result and the stored copy.  The client
is the **single writer**: as each task completes it runs the same commit step
(:func:`~analyzer.service.imports.commit`): the stored copy atomically, then the photo and its
analysis in one transaction.  A killed client leaves only committed photos (plus at most an
orphan stored file, reused later); a killed worker has its tasks rescheduled by Dask
(``retries`` on submit as well).

Mirrored selfies: the patient's baseline photo (:func:`~analyzer.service.imports.baseline_copy`,
the earliest stored photo with a face) has its mirror signature computed once, by one worker
(:func:`signature_on_worker`: the client never loads the model), and every task carries it.  A
patient without a stored baseline has the first photo analysed and committed alone; it becomes
the baseline of the others, as in ``import``.

Before anything is submitted, the scheduler and every worker are asked for their analyzer version
(:func:`_prepare_cluster`): a cluster that cannot import the analyzer, cannot unpickle its tasks,
or runs another version stops the batch with one :class:`~analyzer.errors.AnalyzerError` (one
line, no traceback).  A ``tls://`` scheduler is reached with Dask's own TLS settings
(``distributed.comm.tls``, e.g. ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .. import _version
from ..errors import AnalyzerError
from ..pipeline import Analyzer, close_shared_analyzers, shared_analyzer
from ..result import PhotoResult
from ..store.db import Store
from ..store.photos import sha256_of
from .access import Actor
from .imports import (
    AnalysedPhoto,
    ImportSummary,
    ImportTask,
    PhotoOutcome,
    analyse_photo,
    audit_import,
    baseline_copy,
    baseline_signature,
    commit,
    gate,
    plan_import,
)

__all__ = [
    "DEFAULT_WORKERS",
    "BatchInterrupted",
    "analyse_on_worker",
    "run_batch",
    "signature_on_worker",
    "worker_peak_rss_mb",
]

DEFAULT_WORKERS = 2
RETRIES = 2
"""Extra attempts per photo when a task raises or its worker dies (Dask also reschedules the
tasks of a lost worker on its own, up to ``distributed.scheduler.allowed-failures``)."""
IN_FLIGHT_PER_WORKER = 4
"""At most this many submitted-but-uncommitted photos per worker: bounds client memory."""


class BatchInterrupted(AnalyzerError):
    """The Dask cluster failed part-way through a batch (scheduler gone, workers unable to run
    the analyzer).  The photos committed before are kept; ``summary`` says what was done."""

    def __init__(self, file: str, cause: str, fix: str, summary: ImportSummary) -> None:
        super().__init__(file, cause, fix)
        self.summary = summary


def _worker_analyzer() -> Analyzer:
    """The shared Analyzer of this worker process (loaded on its first photo, closed by the
    worker plugin when the worker shuts down)."""
    import cv2

    # One worker process per core: OpenCV's own thread pool would make each analysis use
    # about 1.25 cores and the processes fight over them (bench/batch.py, docs/batch.md).
    cv2.setNumThreads(1)
    return shared_analyzer()


def _model_plugin():
    """A Dask worker plugin that closes the shared Analyzer when the worker shuts down (at
    interpreter exit MediaPipe's executor is already gone and closing it then fails noisily)."""
    from distributed import WorkerPlugin

    class ModelPlugin(WorkerPlugin):
        name = "analyzer-model"

        def teardown(self, worker) -> None:
            close_shared_analyzers()

    return ModelPlugin()


def _picklable(result: PhotoResult | None) -> PhotoResult | None:
    """The result without maps and with plain dicts (``MappingProxyType`` does not pickle)."""
    if result is None:
        return None
    return dataclasses.replace(result, regions=dict(result.regions), skin_fraction=dict(result.skin_fraction),
                               maps=None)


def _frozen(analysed: AnalysedPhoto) -> AnalysedPhoto:
    """A worker's output with the result made immutable again."""
    r = analysed.result
    if r is None:
        return analysed
    return dataclasses.replace(analysed, result=dataclasses.replace(
        r, regions=MappingProxyType(dict(r.regions)), skin_fraction=MappingProxyType(dict(r.skin_fraction))))


def signature_on_worker(path: str) -> np.ndarray | None:
    """The mirror signature of the baseline's stored copy at ``path`` (on a Dask worker:
    :func:`~analyzer.service.imports.baseline_signature`); None when the worker cannot read it
    or the model cannot be loaded (then nothing is checked)."""
    try:
        return baseline_signature(path, _worker_analyzer())
    except AnalyzerError:
        return None


def analyse_on_worker(task: ImportTask, baseline: np.ndarray | None = None) -> AnalysedPhoto:
    """Read one photo, check its hash and run the analyse step (on a Dask worker).

    Parameters
    ----------
    task : ImportTask
    baseline : ndarray, optional
        The mirror signature of the patient's baseline (:func:`signature_on_worker`).

    Returns
    -------
    AnalysedPhoto
        The result (picklable: no maps) and the stored copy, or the reason the photo cannot be
        stored.  Problems with the photo are returned, not raised; only a crash of the worker
        (or a bug raised from here) makes Dask retry the task.
    """
    label = task.source
    try:
        data = Path(label).read_bytes()
    except OSError as e:
        return AnalysedPhoto(None, None, (f"{label}: cannot read the file on the worker ({e.strerror or e}). "
                                          "Workers must see the same paths as the client: use a shared folder"))
    if sha256_of(data) != task.sha256:
        return AnalysedPhoto(None, None, f"{label}: the file changed during the batch. Run the batch again")
    try:
        analyzer = _worker_analyzer()
    except AnalyzerError as e:  # e.g. the model is missing on this worker
        reason = f"{label}: not analysed on the worker: {e.message}"
        return AnalysedPhoto(PhotoResult.failed(label, reason), None, reason)
    out = analyse_photo(data, label, analyzer, baseline=baseline)
    return dataclasses.replace(out, result=_picklable(out.result))


def worker_peak_rss_mb() -> float:
    """Peak resident memory of the calling process in MiB (for ``client.run``)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run_batch(
    store: Store,
    sources: Sequence[str | os.PathLike],
    patient: str,
    *,
    actor: Actor,
    display_name: str | None = None,
    workers: int = DEFAULT_WORKERS,
    scheduler: str | None = None,
    progress: bool = True,
    retries: int = RETRIES,
) -> ImportSummary:
    """Import photo files for one patient, analysing them on Dask workers.

    Parameters
    ----------
    store : analyzer.store.db.Store
    sources : sequence of path
        Photo files (:func:`analyzer.service.sources.collect_photos` expands folders).
    patient : str
        The patient's pseudonym (in the store, with care consent:
        :func:`~analyzer.service.imports.gate`).
    actor : Actor
        The acting user; the batch is audited once, as ``import`` is.
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
    ImportSummary
        The same summary as ``import``; failures are also recorded in the store.

    Raises
    ------
    PermissionDenied, ConsentRequired
        Before any file is read (:func:`~analyzer.service.imports.gate`).
    BatchInterrupted
        When the cluster fails part-way (its ``summary`` says what was stored before).
    AnalyzerError
        When the cluster cannot be started or reached.
    """
    gate(store, patient, actor)
    version = _version.__version__
    plan = plan_import(store, sources, patient, version, display_name=display_name)
    outcomes: list[PhotoOutcome] = list(plan.done)
    if plan.tasks:
        with _client(workers, scheduler) as client:
            _prepare_cluster(client, scheduler or f"the local cluster of {workers} workers")
            n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})) or workers)
            window = n_workers * IN_FLIGHT_PER_WORKER
            done = 0
            try:
                tasks, baseline = plan.tasks, _baseline(client, store, patient)
                if baseline is None and baseline_copy(store, patient) is None:  # the first is the baseline
                    for task, analysed in _results(client, tasks[:1], window, retries, progress, None):
                        done += 1
                        outcomes.append(commit(store, patient, task, _frozen(analysed), version))
                    tasks, baseline = tasks[1:], _baseline(client, store, patient)
                for task, analysed in _results(client, tasks, window, retries, progress, baseline):
                    done += 1
                    outcomes.append(commit(store, patient, task, _frozen(analysed), version))
            except _ClusterLost as e:
                where = scheduler or f"the local cluster of {workers} workers"
                cut = ImportSummary.of(outcomes)
                audit_import(store, patient, actor, len(cut.imported) + len(cut.reanalysed), len(cut.failed))
                fault = _environment_fault(e.__cause__, "the scheduler or a worker") if e.__cause__ else None
                if fault is not None:
                    cause, fix = fault
                    raise BatchInterrupted(
                        where, f"{cause}; the batch stopped after {done} of {len(plan.tasks)} photos",
                        f"{fix}. The photos stored so far are kept", cut) from e
                raise BatchInterrupted(
                    where, f"the Dask cluster failed after {done} of {len(plan.tasks)} photos ({e})",
                    "The photos stored so far are kept. Check that the scheduler and its workers are "
                    "running, with this analyzer installed in the same Python environment, then run "
                    "the batch again: it goes on where it stopped",
                    cut) from e
    summary = ImportSummary.of(outcomes)
    audit_import(store, patient, actor, len(summary.imported) + len(summary.reanalysed), len(summary.failed))
    return summary


class _ClusterLost(Exception):
    """The cluster, not a photo, failed: stop the batch (the committed photos stay)."""


def _analyzer_version() -> str:
    """The analyzer version of the calling process (run on the scheduler and on every worker:
    it fails there, like the tasks would, when the analyzer cannot be imported)."""
    return _version.__version__


def _prepare_cluster(client, where: str) -> None:
    """Check that the scheduler and every worker run this analyzer version, then install the
    worker plugin.  Each failure becomes one :class:`AnalyzerError` (one line, no traceback).

    Dask unpickles the tasks on the scheduler as well as on the workers, so both need the
    analyzer; a different version would store numbers under the wrong version.
    """
    mine = _version.__version__
    found: dict[str, object] = {}  # who -> its version, or the exception it raised
    try:
        found["the scheduler"] = client.run_on_scheduler(_analyzer_version)
    except Exception as e:  # noqa: BLE001 - the scheduler's own error, classified below
        found["the scheduler"] = e
    try:
        for address, answer in client.run(_analyzer_version, on_error="return").items():
            found[f"worker {address}"] = answer
    except Exception as e:  # noqa: BLE001 - e.g. the scheduler went away
        found["the workers"] = e
    workers = [w for w in found if w != "the scheduler"]

    def who(names: list[str]) -> str:
        """'the scheduler and the workers', 'the workers', 'worker tcp://a', ..."""
        ws = [n for n in names if n != "the scheduler"]
        if ws and len(ws) == len(workers):
            ws = ["the workers"]
        elif len(ws) > 1:
            ws = ["workers " + ", ".join(n.removeprefix("worker ") for n in ws)]
        return " and ".join((["the scheduler"] if "the scheduler" in names else []) + ws)

    errors = {n: v for n, v in found.items() if isinstance(v, BaseException)}
    if errors:
        faults = {n: _environment_fault(e, "") for n, e in errors.items()}
        first = next(iter(errors))
        same = [n for n in errors if faults[n] == faults[first]]
        if faults[first] is None:
            e = errors[first]
            raise AnalyzerError(where, f"cannot use the Dask cluster: {who(same)} failed "
                                       f"({type(e).__name__}: {_first_sentence(e)})",
                                "check that the scheduler and its workers are running, then run the batch "
                                "again") from e
        raise AnalyzerError(where, *_environment_fault(errors[first], who(same))) from errors[first]
    wrong = {n: v for n, v in found.items() if v != mine}
    if wrong:
        versions = ", ".join(sorted({str(v) for v in wrong.values()}))
        raise AnalyzerError(where, f"{who(list(wrong))} run analyzer {versions}, this command {mine}",
                            f"install analyzer {mine} into the environment of the scheduler and the workers "
                            "(docs/batch.md), then run the batch again")
    try:
        client.register_plugin(_model_plugin(), name="analyzer-model")
    except Exception as e:  # noqa: BLE001 - a worker that joined meanwhile, or the cluster went away
        fault = _environment_fault(e, "a worker")
        if fault is None:
            raise AnalyzerError(where,
                                f"cannot use the Dask cluster ({type(e).__name__}: {_first_sentence(e)})",
                                "check that the scheduler and its workers are running, then run the batch "
                                "again") from e
        raise AnalyzerError(where, *fault) from e


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _environment_fault(e: BaseException, who: str) -> tuple[str, str] | None:
    """(cause, fix) when ``e`` says that ``who`` cannot import the analyzer (or a module it
    needs) or cannot unpickle its tasks; None for any other failure."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    missing = _NO_MODULE.search(text)
    if missing is not None:
        module = missing.group(1)
        what = "the analyzer" if module.split(".")[0] == "analyzer" else f"{module}, which the analyzer needs"
        return (f"{who} cannot import {what} (No module named '{module}')",
                f"install it into the environment of {who} (docs/batch.md), "
                "then run the batch again")
    lowered = text.lower()
    if isinstance(e, pickle.UnpicklingError) or "deserializ" in lowered or "unpickl" in lowered \
            or "can't get attribute" in lowered:
        return (f"{who} cannot unpickle the analyzer's tasks ({_first_sentence(e)})",
                "install this same analyzer version, with the same Python and dependency versions, into the "
                "environment of the scheduler and the workers (docs/batch.md), then run the batch again")
    return None


def _baseline(client, store: Store, patient: str) -> np.ndarray | None:
    """The baseline's mirror signature, computed by one worker; None without a baseline."""
    path = baseline_copy(store, patient)
    if path is None:
        return None
    try:
        return client.submit(signature_on_worker, str(path), pure=False).result()
    except Exception as e:  # noqa: BLE001 - the cluster itself: scheduler gone, mismatched environment
        raise _ClusterLost(f"{type(e).__name__}: {_first_sentence(e)}") from e


def _first_sentence(e: BaseException) -> str:
    """The first sentence of an exception's message, on one line (Dask's are long)."""
    text = " ".join(str(e).split())
    end = text.find(". ")
    return (text[: end + 1] if end >= 0 else text) or "no details"


def _results(client, tasks: Sequence[ImportTask], window: int, retries: int, progress: bool,
             baseline: np.ndarray | None):
    """Submit with at most ``window`` in flight; yield (task, AnalysedPhoto) as they finish.
    Every task carries ``baseline`` (the mirror signature, or None)."""
    from distributed import KilledWorker, as_completed
    from tqdm import tqdm

    pending = iter(tasks)
    meta: dict[str, ImportTask] = {}

    def submit():
        task = next(pending, None)
        if task is None:
            return None
        fut = client.submit(analyse_on_worker, task, baseline, key=f"analyse-{task.sha256}-{len(meta)}",
                            retries=retries, pure=False)
        meta[fut.key] = task
        return fut

    first = [f for f in (submit() for _ in range(window)) if f is not None]
    queue = as_completed(first)
    with tqdm(total=len(tasks), desc="analysing", unit="photo", file=sys.stderr, disable=not progress) as bar:
        for fut in queue:
            task = meta.pop(fut.key)
            try:
                out = fut.result()
            except KilledWorker as e:  # this photo's tasks kept killing workers
                out = AnalysedPhoto(None, None, (
                    f"{task.source}: not analysed: the worker analysing it died {retries + 1} times "
                    f"({type(e).__name__}). Import this photo alone; if it fails again, report it"))
            except Exception as e:  # noqa: BLE001 - the cluster itself: scheduler gone, mismatched environment
                raise _ClusterLost(f"{type(e).__name__}: {_first_sentence(e)}") from e
            fut.release()
            try:
                nxt = submit()
            except Exception as e:  # noqa: BLE001 - e.g. the client lost its scheduler
                raise _ClusterLost(f"{type(e).__name__}: {_first_sentence(e)}") from e
            if nxt is not None:
                queue.add(nxt)
            yield task, out
            bar.update(1)


_TLS_ENV = "DASK_DISTRIBUTED__COMM__TLS__"
_TLS_SETTINGS = (("tls_ca_file", "CA_FILE", "the CA certificate"),
                 ("tls_client_cert", "CLIENT__CERT", "the client certificate"),
                 ("tls_client_key", "CLIENT__KEY", "the client key"))


def _security(scheduler: str):
    """Dask's own security settings (``distributed.comm.tls.*`` from its config files or the
    ``DASK_DISTRIBUTED__COMM__TLS__*`` variables); for a ``tls://`` scheduler the CA and the
    client certificate must be set and exist, else one :class:`AnalyzerError` says which."""
    from distributed.security import Security

    security = Security()
    if not scheduler.startswith("tls://"):
        return security
    names = [f"{_TLS_ENV}{var}" for _, var, _ in _TLS_SETTINGS[:2]]
    if not (security.tls_ca_file and security.tls_client_cert):
        raise AnalyzerError(scheduler, "a tls:// scheduler needs the cluster's CA certificate and a client "
                                       "certificate, and Dask's configuration names none",
                            f"set {names[0]} and {names[1]} (and {_TLS_ENV}CLIENT__KEY when the key is a "
                            "separate file), or distributed.comm.tls in Dask's configuration (docs/batch.md)")
    for attr, var, what in _TLS_SETTINGS:
        path = getattr(security, attr)
        if path and not os.path.isfile(path):
            raise AnalyzerError(path, f"{what} named by {_TLS_ENV}{var} (Dask's distributed.comm.tls) "
                                      "does not exist", "correct the path, or copy the file there")
    return security


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
                self.client = Client(self.scheduler, security=_security(self.scheduler))
            else:
                self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self.cluster)
        except AnalyzerError:
            self.__exit__()
            raise
        except (OSError, TimeoutError) as e:
            self.__exit__()
            where = self.scheduler or f"a local cluster of {self.workers} workers"
            raise AnalyzerError(where, f"cannot start or reach the Dask cluster ({type(e).__name__}: {e})",
                                "check --scheduler tcp://HOST:PORT (tls://HOST:PORT with Dask's TLS "
                                "settings, docs/batch.md) and that the scheduler is running") from e
        return self.client

    def __exit__(self, *exc) -> None:
        try:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self._log.setLevel(self._level)
