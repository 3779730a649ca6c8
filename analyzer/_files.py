"""Small file helpers shared by the steps that write to disk (model cache, photo store)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["CHUNK", "copy_hashed", "sha256_file", "write_atomically"]

CHUNK = 1 << 20
"""Bytes read at a time when a file is hashed or copied (1 MiB)."""


def write_atomically(dest: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``dest``, fsync it, then ``os.replace`` it.

    A crash leaves either the old file or the new one, never a partial file; the temporary
    file is removed on any error."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike) -> tuple[int, str]:
    """A file's size in bytes and SHA-256 (hex), read in :data:`CHUNK` pieces."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def copy_hashed(src: str | os.PathLike, dest: str | os.PathLike, mode: int = 0o600) -> tuple[int, str]:
    """Copy ``src`` to ``dest``, a new file (refused if it exists) with ``mode``, fsync'd; returns
    the size and SHA-256 (hex) of what was written, hashed as it was copied."""
    h, size = hashlib.sha256(), 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return size, h.hexdigest()
