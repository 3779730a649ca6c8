"""The cluster as docs/batch.md tells users to start it: a fresh virtual environment with the
project installed by ``pip`` (not the checkout on PYTHONPATH), the face model copied in with
``skin-analyzer fetch-model --from``, a scheduler and two workers started from another folder
with no PYTHONPATH, and a batch through them with the installed ``skin-analyzer`` command.

The fresh environment gets its dependencies from this test's own environment through a ``.pth``
file, so nothing is downloaded (and ``dask scheduler``/``dask worker`` are started as
``python -m distributed.cli.dask_scheduler``/``dask_worker``, the same programs, since the
``dask`` command lives in the other environment); the project itself is built and installed by pip from a copy of
its sources (the checkout is never written to)."""

from __future__ import annotations

import subprocess

import pytest

from analyzer.face.model import MODEL_ENV, resolve_model_path
from analyzer.store.models import Photo
from tests.conftest import bare_env, run
from tests.test_batch import count, distinct_copies, free_port, stop

pytestmark = pytest.mark.slow


def test_pip_installed_cluster_started_from_another_folder_runs_a_batch(installed, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # the analyzer the workers import is the installed one, not the checkout
    r = run([installed / "python", "-I", "-c", "import analyzer; print(analyzer.__file__)"], cwd=outside,
            env=bare_env())
    assert r.returncode == 0 and r.stdout.startswith(str(installed.parent)), r.stdout + r.stderr
    # the face model copied in, checked against its SHA-256
    model = tmp_path / "model" / "face_landmarker.task"
    r = run([installed / "skin-analyzer", "fetch-model", "--from", resolve_model_path(), "--dest", model],
            cwd=outside, env=bare_env())
    assert r.returncode == 0 and model.is_file(), r.stdout + r.stderr
    environ = bare_env(**{MODEL_ENV: str(model)})

    address = f"tcp://127.0.0.1:{free_port()}"
    photos = tmp_path / "in"
    distinct_copies(photos, 3)
    db = tmp_path / "db" / "analyzer.db"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [installed / "python", "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"], cwd=outside, env=environ, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "scheduler.log", "wb")))
        for i in range(2):
            procs.append(subprocess.Popen(
                [installed / "python", "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                cwd=outside, env=environ, start_new_session=True, stdout=subprocess.DEVNULL,
                stderr=open(tmp_path / f"worker-{i}.log", "wb")))
        r = run([installed / "python", "-c",
                 f"from distributed import Client; c = Client('{address}', timeout='60s'); "
                 "c.wait_for_workers(2, timeout=90); c.close()"], cwd=outside, env=environ)
        assert r.returncode == 0, r.stderr[-2000:]
        r = run([installed / "skin-analyzer", "batch", photos, "--patient", "P1", "--consent", "care",
                 "--scheduler", address, "--db", db, "--no-progress"], cwd=outside, env=environ)
    finally:
        for p in procs:
            stop(p)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert count(db, Photo) == 3
