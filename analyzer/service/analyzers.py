"""Opening the analyzer, one way: :func:`open_analyzer`, :class:`LazyAnalyzer`, :func:`analyse_safely`.

The landmark model is the one costly resource an :class:`~analyzer.pipeline.Analyzer` holds.
Who needs it how:

==============================  =================================================================
:func:`open_analyzer`           an open analyzer for a ``with`` block, or kept and closed later
                                (the dashboard's cache); a model that cannot be loaded is one
                                :class:`~analyzer.errors.AnalyzerError` naming the fix
:class:`LazyAnalyzer`           opened on the first photo that needs analysis, so a rerun over
                                photos already stored never loads the model (``import``,
                                ``analyze``, ``series``); a model that cannot be loaded fails
                                every photo with the same message, without retrying
:func:`~analyzer.pipeline.shared_analyzer`  one per process, for :func:`analyze_photo` and the
                                Dask workers
==============================  =================================================================

:func:`analyse_safely` analyses one photo and turns every exception into a failed
:class:`~analyzer.result.PhotoResult`, so one broken photo never stops a command or a batch.
"""

from __future__ import annotations

import os
from typing import Self

from ..errors import AnalyzerError
from ..intake import Photo
from ..pipeline import Analyzer, Source
from ..result import PhotoResult
from ..settings import DEFAULT, Settings

__all__ = ["LazyAnalyzer", "analyse_keeping_photo", "analyse_safely", "open_analyzer"]


def open_analyzer(settings: Settings = DEFAULT) -> Analyzer:
    """An open :class:`~analyzer.pipeline.Analyzer` (the landmark model loaded).

    Use it as ``with open_analyzer() as az: ...``, or keep it and call ``close()``.

    Raises
    ------
    AnalyzerError
        When the model is missing, is not the expected file, or MediaPipe cannot be imported;
        the message names the fix (``python -m analyzer fetch-model``).
    """
    try:
        return Analyzer(settings).open()
    except AnalyzerError:
        raise
    except ImportError as e:  # mediapipe missing or broken in this environment
        raise AnalyzerError("the face landmark model", f"MediaPipe cannot be imported ({e})",
                            "install the requirements: pip install -r requirements.txt") from e


class LazyAnalyzer:
    """The given open analyzer, or one opened by :func:`open_analyzer` on the first photo that
    needs analysis and closed by :meth:`close` (or at the end of a ``with`` block).

    When the model cannot be loaded, :meth:`analyze` raises the same
    :class:`~analyzer.errors.AnalyzerError` for every photo without trying again.

    Parameters
    ----------
    analyzer : Analyzer, optional
        An open analyzer to use (not closed here).
    settings : Settings
        The settings of the analyzer opened when none is given.
    """

    def __init__(self, analyzer: Analyzer | None = None, settings: Settings = DEFAULT) -> None:
        self._given = analyzer
        self._own: Analyzer | None = None
        self._error: AnalyzerError | None = None
        self.settings = analyzer.settings if analyzer is not None else settings

    @property
    def opened(self) -> bool:
        """True once a model is available (given, or loaded by this object)."""
        return self._given is not None or self._own is not None

    def analyzer(self) -> Analyzer:
        """The open analyzer, loading the model now if needed.

        Raises
        ------
        AnalyzerError
            When the model cannot be loaded (the same error on every later call).
        """
        if self._given is not None:
            return self._given
        if self._own is None:
            if self._error is not None:
                raise self._error
            try:
                self._own = open_analyzer(self.settings)
            except AnalyzerError as e:
                self._error = e
                raise
        return self._own

    def analyze(self, source: Source, **kw) -> PhotoResult:
        """:meth:`Analyzer.analyze <analyzer.pipeline.Analyzer.analyze>` on the open analyzer."""
        return self.analyzer().analyze(source, **kw)

    def analyze_keeping_photo(self, source: Source, **kw) -> tuple[PhotoResult, Photo | None]:
        """:meth:`Analyzer.analyze_keeping_photo
        <analyzer.pipeline.Analyzer.analyze_keeping_photo>` on the open analyzer."""
        return self.analyzer().analyze_keeping_photo(source, **kw)

    def close(self) -> None:
        """Close the analyzer this object opened (a given one is left open)."""
        if self._own is not None:
            self._own.close()
            self._own = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def analyse_safely(analyzer, source: Source, *, name: str | None = None, keep_maps: bool = False) -> PhotoResult:
    """Analyse one photo; every problem comes back as a failed result, never as an exception.

    Parameters
    ----------
    analyzer : Analyzer or LazyAnalyzer
        Anything with ``analyze(source, name=, keep_maps=)``.
    source : path or bytes
    name : str, optional
        What to call the photo (default: the path as given, or ``"<bytes>"``).
    keep_maps : bool

    Returns
    -------
    PhotoResult
        A model that cannot be loaded gives ``"<name>: not analysed: <why>"``; an unexpected
        exception (a bug) gives ``"<name>: internal error (...); please report it with this
        photo"``.
    """
    label = _label(source, name)
    try:
        return analyzer.analyze(source, name=label, keep_maps=keep_maps)
    except Exception as e:  # noqa: BLE001 - never raised: reported in the result
        return _failed(label, e)


def analyse_keeping_photo(analyzer, source: Source, *, name: str | None = None,
                          keep_maps: bool = False) -> tuple[PhotoResult, Photo | None]:
    """:func:`analyse_safely`, and the decoded photo that was measured (None when it could not be
    loaded): what the import stores, without decoding the file a second time.

    ``analyzer`` needs ``analyze_keeping_photo`` (an :class:`~analyzer.pipeline.Analyzer` or a
    :class:`LazyAnalyzer`).
    """
    label = _label(source, name)
    try:
        return analyzer.analyze_keeping_photo(source, name=label, keep_maps=keep_maps)
    except Exception as e:  # noqa: BLE001 - never raised: reported in the result
        return _failed(label, e), None


def _label(source: Source, name: str | None) -> str:
    return name if name is not None else ("<bytes>" if isinstance(source, bytes) else os.fspath(source))


def _failed(label: str, e: Exception) -> PhotoResult:
    """The failed result for an exception raised while analysing: a model that cannot be
    loaded is not the photo's fault; anything else is a bug, said plainly."""
    if isinstance(e, AnalyzerError):
        return PhotoResult.failed(label, f"{label}: not analysed: {e.message}")
    return PhotoResult.failed(
        label, f"{label}: internal error ({type(e).__name__}: {e}); please report it with this photo")
