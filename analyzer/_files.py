"""Small file helpers shared by the steps that write to disk (model cache, photo store)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


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
