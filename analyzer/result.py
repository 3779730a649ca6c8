"""The immutable values one analysis returns, and their JSON form (a public contract).

``PhotoResult.to_dict()`` is exactly the object that ``python -m analyzer analyze --json`` prints
per input; later issues, the dashboard and outside checks read it.  Change it only by adding keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ._version import __version__
from .vocab import METRIC_KEYS, REFERENCE_PARTS, REGION_KEYS

__all__ = [
    "round_or_none",
    "Metrics",
    "QualityIssue",
    "Quality",
    "Calibration",
    "LightReference",
    "PartColour",
    "PhotoMaps",
    "PhotoResult",
]


def round_or_none(x: float | None, ndigits: int = 4) -> float | None:
    """``x`` rounded to ``ndigits`` for JSON, or None when missing or not finite."""
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), ndigits)


@dataclass(frozen=True)
class Metrics:
    """The six measurements of one region (or of the whole face).

    Attributes
    ----------
    redness : float
        Erythema index 100*log10(R/G) on normalised linear RGB, unitless, typically 5-35.
    hemoglobin, melanin : float
        Tsumura optical-density concentrations (natural-log OD units), shading removed.
    a_star : float
        CIELAB a* (D65) of the region's mean colour, typically 5-25 on skin.
    texture : float
        Fine-scale roughness at the fixed px/mm, percent (100 x std of high-passed log luminance).
    flaking : float
        Small bright specks at flake scale, count per cm^2 of skin.
    """

    redness: float
    hemoglobin: float
    melanin: float
    a_star: float
    texture: float
    flaking: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: round_or_none(getattr(self, k)) for k in METRIC_KEYS}


@dataclass(frozen=True)
class QualityIssue:
    """One problem with a photo: a stable ``code``, a plain ``message`` with the retake tip, and
    whether it makes the numbers unreliable (``blocking``)."""

    code: str
    message: str
    blocking: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class Quality:
    """The quality gate's verdict: ``ok`` is False when any blocking issue is present."""

    issues: tuple[QualityIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(i.blocking for i in self.issues)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "issues": [i.to_dict() for i in self.issues]}


@dataclass(frozen=True)
class Calibration:
    """How the light was corrected.

    ``method`` is ``"colorchecker"`` when a chart was found, else the card-free method's name;
    ``residual_delta_e00`` is the mean CIEDE2000 over the 24 patches after correction (None
    without a chart)."""

    method: str
    chart_found: bool
    residual_delta_e00: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "chart_found": self.chart_found,
            "residual_delta_e00": round_or_none(self.residual_delta_e00, 3),
        }


@dataclass(frozen=True)
class PartColour:
    """One reference part's colour in a photo (:mod:`analyzer.colour.reference`).

    ``left`` and ``right`` are the medians of (ln R/G, ln B/G) in the corrected frame over the
    eye openings :data:`~analyzer.face.mesh.LEFT_EYE` and :data:`~analyzer.face.mesh.RIGHT_EYE`;
    ``se_rg`` and ``se_bg`` the standard errors of a median over both eyes' ``px`` pixels."""

    left: tuple[float, float]
    right: tuple[float, float]
    se_rg: float
    se_bg: float
    px: int

    @property
    def log_rg(self) -> float:
        """ln(R/G), the mean of the two eyes."""
        return (self.left[0] + self.right[0]) / 2

    @property
    def log_bg(self) -> float:
        """ln(B/G), the mean of the two eyes."""
        return (self.left[1] + self.right[1]) / 2

    def to_dict(self) -> dict[str, Any]:
        return {"left": [round(v, 5) for v in self.left], "right": [round(v, 5) for v in self.right],
                "se_rg": round(self.se_rg, 5), "se_bg": round(self.se_bg, 5), "px": self.px}


@dataclass(frozen=True)
class LightReference:
    """The colours of the reference parts found in one photo (a part may be missing)."""

    parts: Mapping[str, PartColour]

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", MappingProxyType(dict(self.parts)))

    def to_dict(self) -> dict[str, Any]:
        return {name: self.parts[name].to_dict() for name in REFERENCE_PARTS if name in self.parts}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "LightReference | None":
        """The inverse of :meth:`to_dict` (None stays None; unknown parts are ignored)."""
        if not d:
            return None if d is None else cls({})
        return cls({k: PartColour(left=(float(v["left"][0]), float(v["left"][1])),
                                  right=(float(v["right"][0]), float(v["right"][1])),
                                  se_rg=float(v["se_rg"]), se_bg=float(v["se_bg"]), px=int(v["px"]))
                    for k, v in d.items() if k in REFERENCE_PARTS})


@dataclass(frozen=True, eq=False)
class PhotoMaps:
    """Per-pixel maps over the face crop (for overlays), in the decoded image's pixel grid.

    Attributes
    ----------
    box : (x0, y0, x1, y1)
        The crop in decoded-image pixels.
    hemoglobin, redness : ndarray of float32, shape (y1-y0, x1-x0)
        Tsumura c_h and erythema index per pixel; NaN outside the skin of the regions.
    image : ndarray of uint8, shape (y1-y0, x1-x0, 3)
        The crop as normalised sRGB, for display.
    polygons : mapping of region name to ndarray (N, 2) float32
        Region outlines in crop pixels.
    """

    box: tuple[int, int, int, int]
    hemoglobin: np.ndarray
    redness: np.ndarray
    image: np.ndarray
    polygons: Mapping[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class PhotoResult:
    """Everything measured on one photo.  Immutable; ``to_dict()`` is the JSON contract."""

    file: str
    ok: bool
    error: str | None = None
    captured_at: datetime | None = None
    width: int | None = None
    height: int | None = None
    quality: Quality = field(default_factory=Quality)
    calibration: Calibration | None = None
    scale_px_per_mm: float | None = None
    face: Metrics | None = None
    regions: Mapping[str, Metrics] = field(default_factory=lambda: MappingProxyType({}))
    analyzer_version: str = __version__
    skin_fraction: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    maps: PhotoMaps | None = None
    light_reference: LightReference | None = None
    """The colour of the eyes' reference parts in the corrected frame, which a series uses to map
    each photo onto its baseline's light (:mod:`analyzer.colour.reference`)."""

    @classmethod
    def failed(cls, file: str, error: str) -> "PhotoResult":
        """The result for an input that could not be analysed."""
        return cls(file=file, ok=False, error=error)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "ok": self.ok}
        if not self.ok:
            d["error"] = self.error
        d.update(
            captured_at=self.captured_at.isoformat() if self.captured_at else None,
            width=self.width,
            height=self.height,
            # A photo that could not be analysed has no trustworthy numbers: quality not ok.
            quality=self.quality.to_dict() if self.ok else {"ok": False, "issues": []},
            calibration=self.calibration.to_dict() if self.calibration else None,
            scale_px_per_mm=round_or_none(self.scale_px_per_mm, 3),
            face=self.face.to_dict() if self.face else None,
            regions={k: self.regions[k].to_dict() for k in REGION_KEYS if k in self.regions},
            analyzer_version=self.analyzer_version,
            skin_fraction={k: round_or_none(v, 3) for k, v in self.skin_fraction.items()},
            light_reference=self.light_reference.to_dict() if self.light_reference else None,
        )
        return d
