"""``python -m analyzer batch``: parallel import on Dask distributed (LocalCluster and a real
scheduler with worker processes), idempotent reruns, failures recorded, a killed worker's photos
retried, and a SIGKILLed client that resumes with every photo stored exactly once."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from analyzer.cli import main
from analyzer.store import open_store
from analyzer.store.models import Analysis, ImportFailure, Photo

ROOT = Path(__file__).parents[1]
NORMAL = ROOT / "sample_images" / "normal"
PHOTOS = sorted(NORMAL.glob("*.jpg"))
PY = sys.executable
DASK = str(Path(sys.executable).with_name("dask"))


def distinct_copies(dest: Path, n: int) -> list[Path]:
    """``n`` photos in ``dest``: the sample photos, made distinct (different SHA-256) by bytes
    appended after the JPEG end marker, which decoders ignore."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        src = PHOTOS[i % len(PHOTOS)]
        p = dest / f"{i:03d}_{src.name}"
        p.write_bytes(src.read_bytes() + b"\0" * (i // len(PHOTOS)))
        out.append(p)
    return out


def count(db: Path, model, *where) -> int:
    with open_store(db) as store, store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def committed_photos(db: Path) -> int:
    """Photo rows, read with plain sqlite3 (no migration, no locks held)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("select count(*) from photo").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def check_complete(db: Path) -> None:
    """The database is intact and every photo row has its stored file and an analysis."""
    con = sqlite3.connect(db)
    try:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = con.execute("select id, stored_path from photo").fetchall()
        for pid, rel in rows:
            assert (db.parent / rel).is_file(), rel
            assert con.execute("select count(*) from analysis where photo_id=?", (pid,)).fetchone()[0] == 1
    finally:
        con.close()


@pytest.fixture
def six(tmp_path) -> Path:
    d = tmp_path / "in"
    distinct_copies(d, 6)
    return d


def test_batch_local_cluster_imports_once_and_rerun_does_nothing(tmp_path, six, capsys):
    db = tmp_path / "db" / "analyzer.db"
    args = ["batch", str(six), "--patient", "P1", "--consent", "care", "--workers", "2", "--db", str(db)]
    assert main(args) == 0
    assert "imported 6, re-analysed 0, unchanged 0, failed 0" in capsys.readouterr().out
    assert count(db, Photo) == 6 and count(db, Analysis) == 6
    check_complete(db)
    assert main(args + ["--treated-at", "2026-11-03T09:00+01:00"]) == 0
    assert "imported 0, re-analysed 0, unchanged 6, failed 0" in capsys.readouterr().out
    assert count(db, Photo) == 6 and count(db, Analysis) == 6


def test_batch_broken_file_is_recorded_and_others_imported(tmp_path, six, capsys):
    (six / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a photo")
    db = tmp_path / "db" / "analyzer.db"
    assert main(["batch", str(six), "--patient", "P1", "--consent", "care",
                 "--workers", "2", "--db", str(db), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "imported 6, re-analysed 0, unchanged 0, failed 1" in out and "FAILED" in out and "broken.jpg" in out
    assert count(db, Photo) == 6
    with open_store(db) as store, store.sessions() as s:
        reasons = s.scalars(select(ImportFailure.reason)).all()
    assert len(reasons) == 1 and "broken.jpg" in reasons[0]


def test_batch_usage_errors_exit_2(tmp_path, six):
    db = str(tmp_path / "a.db")
    assert main(["batch", str(six), "--patient", "P1", "--consent", "care",
                 "--workers", "0", "--db", db]) == 2
    assert main(["batch", str(six), "--patient", "P1", "--consent", "care",
                 "--needle-depth", "1", "--db", db]) == 2
    assert main(["batch", str(six), "--patient", "P1", "--consent", "care",
                 "--treated-at", "yesterday", "--db", db]) == 2
    with pytest.raises(SystemExit) as e:
        main(["batch", str(six)])  # no --patient
    assert e.value.code == 2


def test_batch_without_care_consent_is_refused_before_any_cluster(tmp_path, six, capsys, monkeypatch):
    from analyzer.service import batch as batch_module

    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started although the batch was refused")

    monkeypatch.setattr(batch_module, "_client", no_cluster)
    db = tmp_path / "db" / "analyzer.db"
    assert main(["batch", str(six), "--patient", "P1", "--no-progress", "--db", str(db)]) == 1
    assert capsys.readouterr().err == (
        "error: P1: no care consent is recorded, so no photo is stored or analysed. record it first: "
        "add --consent care to the command, or give consent on the Patient page\n")
    assert count(db, Photo) == 0 and count(db, ImportFailure) == 0
    photos = db.parent / "photos"
    assert not photos.exists() or list(photos.iterdir()) == []


def test_batch_unreachable_scheduler_is_a_clear_error(tmp_path, six, capsys):
    import dask

    port = free_port()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["batch", str(six), "--patient", "P1", "--consent", "care",
                     "--scheduler", f"tcp://127.0.0.1:{port}",
                     "--db", str(tmp_path / "a.db"), "--no-progress"])
    assert code == 1
    assert "cannot start or reach the Dask cluster" in capsys.readouterr().err


# --- a real scheduler and worker processes ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL the process group we started (the process and its children) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=20)


@contextmanager
def dask_cluster(logs: Path, workers: tuple[str, ...]):
    """``dask scheduler`` and one ``dask worker`` process per name on 127.0.0.1 (one thread
    each); yields (address, {name: process}) and SIGKILLs them all at the end."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    procs: dict[str, subprocess.Popen] = {}

    def start(name: str, *cmd: str) -> None:
        procs[name] = subprocess.Popen([DASK, *cmd], cwd=ROOT, env=env(), start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=open(logs / f"{name}.log", "wb"))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
              "--no-dashboard")
        for name in workers:
            start(name, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                  "--host", "127.0.0.1")
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(len(workers), timeout=60)
        yield address, procs
    finally:
        for p in procs.values():
            stop(p)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers shared by the tests of this module."""
    with dask_cluster(tmp_path_factory.mktemp("dask-logs"), ("worker-a", "worker-b")) as c:
        yield c


def test_batch_on_a_real_scheduler(tmp_path, six, cluster):
    address, _ = cluster
    db = tmp_path / "db" / "analyzer.db"
    r = subprocess.run([PY, "-m", "analyzer", "batch", str(six), "--patient", "P1", "--consent", "care",
                        "--scheduler", address,
                        "--db", str(db), "--no-progress"], cwd=ROOT, env=env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "imported 6, re-analysed 0, unchanged 0, failed 0" in r.stdout
    assert count(db, Photo) == 6
    check_complete(db)


def test_batch_survives_a_killed_worker(tmp_path, cluster):
    """SIGKILL one worker process mid-batch: Dask reschedules its photos on the other."""
    address, procs = cluster
    folder = tmp_path / "in"
    distinct_copies(folder, 40)
    db = tmp_path / "db" / "analyzer.db"
    batch = subprocess.Popen([PY, "-m", "analyzer", "batch", str(folder), "--patient", "P1",
                              "--consent", "care", "--scheduler", address,
                              "--db", str(db), "--no-progress"], cwd=ROOT, env=env(), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while committed_photos(db) < 3 and batch.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        at_kill = committed_photos(db)
        stop(procs["worker-a"])
        out, err = batch.communicate(timeout=120)
    finally:
        stop(batch)
    assert batch.returncode == 0, err[-2000:]
    assert "imported 40, re-analysed 0, unchanged 0, failed 0" in out
    assert count(db, Photo) == 40 and count(db, Analysis) == 40
    check_complete(db)
    print(f"worker killed after {at_kill} of 40 photos were committed")


def test_batch_with_a_dead_scheduler_stops_cleanly_and_resumes(tmp_path):
    """SIGKILL the scheduler mid-batch: one plain error (no traceback), exit 1, the committed
    photos complete; a rerun goes on where it stopped."""
    folder = tmp_path / "in"
    distinct_copies(folder, 24)
    db = tmp_path / "db" / "analyzer.db"
    logs = tmp_path / "logs"
    logs.mkdir()
    with dask_cluster(logs, ("worker",)) as (address, procs):
        r = subprocess.Popen([PY, "-m", "analyzer", "batch", str(folder), "--patient", "P1",
                              "--consent", "care", "--scheduler", address,
                              "--db", str(db), "--no-progress"], cwd=ROOT, env=env(), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 90
            while committed_photos(db) < 2 and r.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            stop(procs["scheduler"])
            out, err = r.communicate(timeout=120)
        finally:
            stop(r)
    assert r.returncode == 1, err[-2000:]
    assert "the Dask cluster failed after" in err and "run the batch again" in err
    assert "Traceback" not in err, err[-3000:]
    k = committed_photos(db)
    assert 2 <= k < 24 and f"imported {k}, " in out
    check_complete(db)
    again = subprocess.run([PY, "-m", "analyzer", "batch", str(folder), "--patient", "P1",
                            "--consent", "care", "--workers", "1",
                            "--db", str(db), "--no-progress"], cwd=ROOT, env=env(), capture_output=True,
                           text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"imported {24 - k}, re-analysed 0, unchanged {k}, failed 0" in again.stdout
    assert count(db, Photo) == 24
    check_complete(db)


# --- SIGKILL of the client and resume --------------------------------------------------------------


def test_batch_killed_mid_run_resumes_with_every_photo_once(tmp_path):
    folder = tmp_path / "in"
    n = 48
    distinct_copies(folder, n)
    db = tmp_path / "db" / "analyzer.db"
    cmd = [PY, "-m", "analyzer", "batch", str(folder), "--patient", "P1", "--consent", "care",
           "--workers", "2", "--db", str(db),
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while committed_photos(db) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)  # the client (the single writer) dies mid-batch
    finally:
        stop(proc)  # and its local cluster with it
    at_kill = committed_photos(db)
    assert 0 < at_kill < n
    check_complete(db)  # intact, and only complete photos (row + analysis + stored file)
    r = subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"imported {n - at_kill}, re-analysed 0, unchanged {at_kill}, failed 0" in r.stdout
    check_complete(db)
    con = sqlite3.connect(db)
    try:
        shas = [s for (s,) in con.execute("select sha256 from photo")]
        rels = [r for (r,) in con.execute("select stored_path from photo")]
    finally:
        con.close()
    assert len(shas) == n == len(set(shas))
    stored = {p.name for p in (db.parent / "photos").iterdir() if not p.name.endswith(".part")}
    assert stored == {Path(r).name for r in rels} and len(stored) == n  # every copy; an orphan was reused
    print(f"client killed after {at_kill} of {n} photos were committed; rerun imported the rest")
