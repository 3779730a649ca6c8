"""One exception family for the analyzer.

Every error names the file it concerns and says what to do about it, so a message can be shown
to a patient or written into a batch log as it is.  Raise the most specific class; catch
:class:`AnalyzerError` at the boundary (command line, batch, dashboard).
"""

from __future__ import annotations

__all__ = [
    "AnalyzerError",
    "UnreadablePhoto",
    "UnsupportedPhoto",
    "PhotoTooLarge",
    "PhotoTooSmall",
    "NoFaceFound",
    "ModelMissing",
    "ModelChecksumMismatch",
    "plain_message",
]


class AnalyzerError(Exception):
    """Base class: a problem with one input that the user can act on.

    Parameters
    ----------
    file : str
        The file (or ``"<bytes>"``) the problem concerns.
    cause : str
        What is wrong, in plain words.
    fix : str
        What to do about it.
    """

    def __init__(self, file: str, cause: str, fix: str = "") -> None:
        self.file = file
        self.cause = cause
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line: ``file: cause. fix``."""
        text = f"{self.file}: {self.cause}"
        if self.fix:
            text += f". {self.fix}"
        return text


class UnreadablePhoto(AnalyzerError):
    """The file is missing, empty, not an image, or its data are damaged."""


class UnsupportedPhoto(AnalyzerError):
    """The file is an image, but not one we can measure (e.g. grayscale)."""


class PhotoTooLarge(AnalyzerError):
    """The image claims more pixels than the configured limit."""


class PhotoTooSmall(AnalyzerError):
    """The image is too small to hold a measurable face."""


class NoFaceFound(AnalyzerError):
    """No face was detected in the photo."""


class ModelMissing(AnalyzerError):
    """The face landmark model file could not be found."""


class ModelChecksumMismatch(AnalyzerError):
    """A model file exists but its SHA-256 is not the expected one."""


def plain_message(e: BaseException) -> str:
    """What to tell a person about ``e``: the analyzer's own sentence for an
    :class:`AnalyzerError`, else a short generic one (never a traceback, never the internals)."""
    if isinstance(e, AnalyzerError):
        return e.message
    return f"Something went wrong ({type(e).__name__}). Please try again; if it happens again, report it."
