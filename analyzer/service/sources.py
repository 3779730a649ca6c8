"""The photo files a command is given: files as named, and the photos directly inside folders.

``import``, ``batch`` and ``series`` take photos or folders of photos; a folder contributes the
files whose ending is one of :data:`analyzer.vocab.PHOTO_EXTENSIONS` (every container the intake
decodes, HEIF and TIFF included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..vocab import PHOTO_EXTENSIONS, is_photo_file

__all__ = ["collect_photos", "photo_endings"]


def collect_photos(paths: Sequence[str], *, note: Callable[[str], None] | None = None) -> list[str]:
    """Files as given, and the photos directly inside each folder (sorted by name).

    Parameters
    ----------
    paths : sequence of str
        Photo files and folders, as typed.
    note : callable, optional
        Told, in one plain sentence, about a file named twice (kept once).

    Returns
    -------
    list of str
        In the order given; a folder's photos sorted by name.

    Raises
    ------
    OSError
        When a folder cannot be listed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("b.HEIF", "a.jpg", "notes.txt", "c.tif"):
    ...     _ = (d / n).write_bytes(b"")
    >>> [pathlib.Path(f).name for f in collect_photos([str(d)])]
    ['a.jpg', 'b.HEIF', 'c.tif']
    """
    out: list[str] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        found = sorted(str(c) for c in p.iterdir() if c.is_file() and is_photo_file(c.name)) if p.is_dir() else [raw]
        for f in found:
            key = Path(f).resolve()
            if key in seen:
                if note is not None:
                    note(f"{f} was given twice; using it once")
                continue
            seen.add(key)
            out.append(f)
    return out


def photo_endings() -> str:
    """The endings a folder is searched for, for messages: ``"jpg, jpeg, png, ..."``."""
    return ", ".join(e.lstrip(".") for e in PHOTO_EXTENSIONS)
