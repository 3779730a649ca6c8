"""Recovery after micro-needling: the expected course, noise, flags, aftercare and the series.

See docs/recovery.md.  Library code only (no Streamlit)."""

from .aftercare import AFTERCARE, AftercareItem, aftercare_for
from .course import ExpectedCourse, expected_excess, fit_peak_excess
from .flags import Flag
from .noise import photo_noise, smallest_real_change
from .points import Baseline, Point
from .series import SeriesPoint, SeriesResult, analyze_series, build_points, series_from_points
from .symptoms import SYMPTOMS, SymptomEntry, read_symptoms
from .treatment import PROTOCOLS, Protocol, RecoveryError, Treatment, get_protocol, load_protocol

__all__ = [
    "AFTERCARE",
    "PROTOCOLS",
    "SYMPTOMS",
    "AftercareItem",
    "Baseline",
    "ExpectedCourse",
    "Flag",
    "Point",
    "Protocol",
    "RecoveryError",
    "SeriesPoint",
    "SeriesResult",
    "SymptomEntry",
    "Treatment",
    "aftercare_for",
    "analyze_series",
    "build_points",
    "expected_excess",
    "fit_peak_excess",
    "get_protocol",
    "load_protocol",
    "photo_noise",
    "read_symptoms",
    "series_from_points",
    "smallest_real_change",
]
