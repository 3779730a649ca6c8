"""The Dask cluster as users start it (docs/batch.md): a scheduler and workers whose environment
cannot import the analyzer stop the batch with one plain line; workers running another analyzer
version are refused; a ``tls://`` cluster started with certificates this test makes itself runs a
batch through Dask's own TLS settings and refuses a plain ``tcp://`` client."""

from __future__ import annotations

import datetime
import ipaddress
import os
import pickle
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.service.batch import _environment_fault
from analyzer.store.models import Photo
from tests.test_batch import PY, ROOT, count, distinct_copies, env, free_port, stop

TLS_ENV = "DASK_DISTRIBUTED__COMM__TLS__"


def bare_env() -> dict[str, str]:
    """The environment without PYTHONPATH: with ``python -I`` and a folder outside the checkout
    as cwd, ``import analyzer`` fails (the checkout is not installed in the venv)."""
    e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("DASK_")}
    return e


@contextmanager
def dask_processes(logs: Path, address: str, n_workers: int, *, isolated: bool, cwd: Path,
                   tls: dict[str, Path] | None = None, environ: dict[str, str]):
    """A scheduler and ``n_workers`` worker processes (``python [-I] -m distributed.cli.*``);
    SIGKILLed at the end.  Yields nothing: the caller waits for the workers."""
    flags = ["-I"] if isolated else []
    tls_args = [] if tls is None else ["--tls-ca-file", str(tls["ca"]), "--tls-cert", str(tls["cert"]),
                                       "--tls-key", str(tls["key"])]
    procs: list[subprocess.Popen] = []

    def start(name: str, *cmd: str) -> None:
        procs.append(subprocess.Popen([PY, *flags, "-m", *cmd, *tls_args], cwd=cwd, env=environ,
                                      start_new_session=True, stdout=subprocess.DEVNULL,
                                      stderr=open(logs / f"{name}.log", "wb")))

    host, port = address.split("://")[1].rsplit(":", 1)
    try:
        start("scheduler", "distributed.cli.dask_scheduler", "--host", host, "--port", port, "--no-dashboard",
              *(["--protocol", "tls"] if tls else []))
        for i in range(n_workers):
            start(f"worker-{i}", "distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                  "--no-dashboard", "--host", "127.0.0.1")
        yield
    finally:
        for p in procs:
            stop(p)


def wait_for_workers(address: str, n: int, security=None) -> None:
    from distributed import Client

    with Client(address, timeout="30s", security=security) as c:
        c.wait_for_workers(n, timeout=60)


def batch(photos: Path, db: Path, scheduler: str, environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "analyzer", "batch", str(photos), "--patient", "P1", "--consent", "care",
                           "--scheduler", scheduler, "--db", str(db), "--no-progress"],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


# --- a cluster that cannot import the analyzer ----------------------------------------------------


@pytest.mark.slow
def test_cluster_without_the_analyzer_stops_the_batch_with_one_line(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    probe = subprocess.run([PY, "-I", "-c", "import analyzer"], cwd=outside, env=bare_env(),
                           capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'analyzer'" in probe.stderr  # really not importable
    address = f"tcp://127.0.0.1:{free_port()}"
    photos = tmp_path / "in"
    distinct_copies(photos, 2)
    db = tmp_path / "db" / "analyzer.db"
    with dask_processes(tmp_path, address, 2, isolated=True, cwd=outside, environ=bare_env()):
        wait_for_workers(address, 2)
        r = batch(photos, db, address, env())
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert r.stderr == (
        f"error: {address}: the scheduler and the workers cannot import the analyzer (No module named "
        "'analyzer'). install it into the environment of the scheduler and the workers (docs/batch.md), "
        "then run the batch again\n")
    assert count(db, Photo) == 0


def test_workers_running_another_analyzer_version_are_refused(tmp_path, capsys, monkeypatch):
    """The local cluster's scheduler runs in this process (patched version), its worker in
    another one (the real version): the batch is refused before any photo is analysed."""
    from analyzer import _version

    real = _version.__version__
    monkeypatch.setattr(_version, "__version__", "0.0.0-other")
    photos = tmp_path / "in"
    distinct_copies(photos, 2)
    db = tmp_path / "db" / "analyzer.db"
    assert main(["batch", str(photos), "--patient", "P1", "--consent", "care", "--workers", "1",
                 "--db", str(db), "--no-progress"]) == 1
    assert capsys.readouterr().err == (
        f"error: the local cluster of 1 workers: the workers run analyzer {real}, this command 0.0.0-other. "
        "install analyzer 0.0.0-other into the environment of the scheduler and the workers (docs/batch.md), "
        "then run the batch again\n")
    assert count(db, Photo) == 0


def test_environment_faults_are_told_apart_from_other_failures():
    missing_dep = _environment_fault(ModuleNotFoundError("No module named 'cv2'"), "the workers")
    assert missing_dep == ("the workers cannot import cv2, which the analyzer needs (No module named 'cv2')",
                           "install it into the environment of the workers (docs/batch.md), then run the "
                           "batch again")
    wrapped = Exception('ModuleNotFoundError("No module named \'analyzer.service\'")')  # as Dask relays it
    assert _environment_fault(wrapped, "a worker")[0] == (
        "a worker cannot import the analyzer (No module named 'analyzer.service')")
    graph = RuntimeError("Error during deserialization of the task graph. This frequently\noccurs if ...")
    cause, fix = _environment_fault(graph, "the scheduler or a worker")
    assert cause == ("the scheduler or a worker cannot unpickle the analyzer's tasks (Error during "
                     "deserialization of the task graph.)")
    assert "same analyzer version" in fix and "docs/batch.md" in fix
    old_version = AttributeError("Can't get attribute 'ImportTask' on <module 'analyzer.service.imports'>")
    assert _environment_fault(old_version, "a worker")[0].startswith("a worker cannot unpickle")
    assert _environment_fault(pickle.UnpicklingError("invalid load key"), "a worker") is not None
    assert _environment_fault(OSError("Connection reset by peer"), "the workers") is None
    assert _environment_fault(TimeoutError(), "the workers") is None


# --- TLS ------------------------------------------------------------------------------------------


def make_tls_files(folder: Path) -> dict[str, Path]:
    """A CA and one certificate it signs (for 127.0.0.1 and localhost), PEM files in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("analyzer test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name("dask")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(alt, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return files


@pytest.mark.slow
def test_batch_through_a_tls_cluster_and_a_plain_client_refused(tmp_path):
    from distributed.security import Security

    tls = make_tls_files(tmp_path / "tls")
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    photos = tmp_path / "in"
    distinct_copies(photos, 2)
    db = tmp_path / "db" / "analyzer.db"
    base = {**env(), "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"}
    with_tls = {**base, f"{TLS_ENV}CA_FILE": str(tls["ca"]), f"{TLS_ENV}CLIENT__CERT": str(tls["cert"]),
                f"{TLS_ENV}CLIENT__KEY": str(tls["key"]),
                "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    with dask_processes(tmp_path, address, 2, isolated=False, cwd=ROOT, tls=tls, environ=env()):
        wait_for_workers(address, 2, Security(tls_ca_file=str(tls["ca"]), tls_client_cert=str(tls["cert"]),
                                              tls_client_key=str(tls["key"]), require_encryption=True))
        ok = batch(photos, db, address, with_tls)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert "imported 2, re-analysed 0, unchanged 0, failed 0" in ok.stdout
        assert count(db, Photo) == 2

        plain = batch(photos, tmp_path / "other.db", f"tcp://127.0.0.1:{port}", base)
        assert plain.returncode == 1 and "Traceback" not in plain.stderr
        assert plain.stderr.startswith(
            f"error: tcp://127.0.0.1:{port}: cannot start or reach the Dask cluster (")
        assert plain.stderr.count("\n") == 1

        no_settings = batch(photos, tmp_path / "other.db", address, base)
        assert no_settings.returncode == 1
        assert no_settings.stderr == (
            f"error: {address}: a tls:// scheduler needs the cluster's CA certificate and a client "
            f"certificate, and Dask's configuration names none. set {TLS_ENV}CA_FILE and "
            f"{TLS_ENV}CLIENT__CERT (and {TLS_ENV}CLIENT__KEY when the key is a separate file), or "
            "distributed.comm.tls in Dask's configuration (docs/batch.md)\n")

        other_ca = make_tls_files(tmp_path / "other-tls")
        stranger = batch(photos, tmp_path / "other.db", address,
                         {**with_tls, f"{TLS_ENV}CA_FILE": str(other_ca["ca"]),
                          f"{TLS_ENV}CLIENT__CERT": str(other_ca["cert"]),
                          f"{TLS_ENV}CLIENT__KEY": str(other_ca["key"])})
        assert stranger.returncode == 1 and "Traceback" not in stranger.stderr
        assert "cannot start or reach the Dask cluster" in stranger.stderr
    assert count(tmp_path / "other.db", Photo) == 0


def test_tasks_the_cluster_cannot_unpickle_mid_batch_stop_it_with_one_line(tmp_path, capsys, monkeypatch):
    """A worker that joins after the check with an older analyzer: the error Dask relays is
    turned into one line naming the fix; the photos it did not reach are not recorded as failed."""
    from contextlib import nullcontext

    from analyzer.service import batch as batch_module
    from analyzer.store.models import ImportFailure

    def failing_results(*a, **k):
        try:
            raise RuntimeError("Error during deserialization of the task graph. This frequently\n"
                               "occurs if ...")
        except RuntimeError as e:
            raise batch_module._ClusterLost(f"RuntimeError: {e}") from e
        yield  # a generator, as the real one

    class Client:
        def scheduler_info(self, n_workers):
            return {"workers": {"tcp://10.9.9.9:1": {}}}

    monkeypatch.setattr(batch_module, "_client", lambda workers, scheduler: nullcontext(Client()))
    monkeypatch.setattr(batch_module, "_prepare_cluster", lambda client, where: None)
    monkeypatch.setattr(batch_module, "_results", failing_results)
    photos = tmp_path / "in"
    distinct_copies(photos, 2)
    db = tmp_path / "db" / "analyzer.db"
    assert main(["batch", str(photos), "--patient", "P1", "--consent", "care",
                 "--scheduler", "tcp://10.9.9.9:8786", "--db", str(db), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "error: tcp://10.9.9.9:8786: the scheduler or a worker cannot unpickle the analyzer's tasks (Error "
        "during deserialization of the task graph.); the batch stopped after 0 of 2 photos. install this "
        "same analyzer version, with the same Python and dependency versions, into the environment of the "
        "scheduler and the workers (docs/batch.md), then run the batch again. The photos stored so far are "
        "kept\n")
    assert "imported 0, re-analysed 0, unchanged 0, failed 0" in captured.out
    assert count(db, Photo) == 0 and count(db, ImportFailure) == 0
