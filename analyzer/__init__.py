"""Skin recovery analyzer: daily face photos in, per-region redness, pigment and texture out.

Public API
----------
analyze_photo(path_or_bytes) -> PhotoResult
Analyzer                      holds the landmark model for a ``with`` block of many photos
analyze_series(results, treatment) -> SeriesResult   recovery curve, noise and flags
PhotoResult, Metrics, Quality, QualityIssue, Calibration   immutable result values
Settings, DEFAULT             thresholds and defaults with their units and sources
AnalyzerError and subclasses  one exception family; each names the file and the fix
"""

from ._version import __version__
from .errors import (
    AnalyzerError,
    ModelChecksumMismatch,
    ModelMissing,
    NoFaceFound,
    PhotoTooLarge,
    PhotoTooSmall,
    UnreadablePhoto,
    UnsupportedPhoto,
)
from .pipeline import Analyzer, analyze_photo
from .recovery import SeriesResult, Treatment, analyze_series
from .result import Calibration, Metrics, PhotoResult, Quality, QualityIssue
from .settings import DEFAULT, Settings

__all__ = [
    "__version__",
    "analyze_photo",
    "Analyzer",
    "analyze_series",
    "Treatment",
    "SeriesResult",
    "PhotoResult",
    "Metrics",
    "Quality",
    "QualityIssue",
    "Calibration",
    "Settings",
    "DEFAULT",
    "AnalyzerError",
    "UnreadablePhoto",
    "UnsupportedPhoto",
    "PhotoTooLarge",
    "PhotoTooSmall",
    "NoFaceFound",
    "ModelMissing",
    "ModelChecksumMismatch",
]
