"""Message parts shared by the intake modules (every error names the file, cause and fix)."""

from __future__ import annotations

_FIX_RECOPY = "copy the photo from the phone again, or send the original"
_FIX_FOLDER = "give the path of one photo file"


def _one_line(exc: BaseException) -> str:
    """The exception's text on one short line (no traceback, no newlines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
