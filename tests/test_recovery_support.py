"""Helpers for the recovery tests (no tests here): synthetic series of numbers and PhotoResult-like
results."""

from __future__ import annotations

from datetime import datetime, timedelta

from analyzer.recovery.points import Point
from analyzer.recovery.treatment import Treatment
from analyzer.result import Calibration, Metrics, PhotoResult, Quality, QualityIssue

TREATED = datetime.fromisoformat("2026-11-03T09:00:00+01:00")
TREATMENT = Treatment(TREATED, 1.0)
EI_PER_OD = 16.7
"""Erythema index per OD of haemoglobin (sample_images/README.md)."""


def normal_day(hours: float) -> dict:
    """Face values of the default course (sample_images/README.md, 'normal/')."""
    excess = 0.33 * 2 ** (-hours / 22) * EI_PER_OD if hours >= 0 else 0.0
    flaking = {4: 4.0, 5: 4.5, 6: 1.5}.get(round(hours / 24), 0.2) if hours >= 0 else 0.2
    return {"redness": 8.0 + excess, "melanin": 0.43, "texture": 2.6, "flaking": flaking}


def point(hours: float, *, sd: float = 0.41, ok: bool = True, codes: tuple[str, ...] = (), scale: str = "card_free",
          **values) -> Point:
    """One photo of the default course; ``codes`` are its non-blocking quality codes, ``scale``
    its colour scale (``chart`` or ``card_free``)."""
    v = normal_day(hours)
    v.update(values)
    return Point(
        file=f"p{hours:+.0f}h.jpg", captured_at=TREATED + timedelta(hours=hours), hours=hours,
        redness=v["redness"], melanin=v["melanin"], texture=v["texture"], flaking=v["flaking"],
        redness_sd=sd, melanin_sd=0.02, texture_sd=0.1, flaking_sd=0.4,
        quality_ok=ok, quality_issues=() if ok else (("blurred", "The photo is blurred."),),
        issue_codes=tuple(codes) + (() if ok else ("blurred",)),
        scale=scale,
    )


DAYS = [-24, 3, 24, 48, 72, 96, 120, 144, 168, 192, 216, 240, 264, 288, 312, 336]


def normal_series(hours=DAYS, over: dict | None = None) -> list[Point]:
    over = over or {}
    return [point(h, **over.get(h, {})) for h in hours]


def result(hours: float | None, name: str | None = None, *, chart: bool = False,
           issues: tuple[QualityIssue, ...] = (), **values) -> PhotoResult:
    """A PhotoResult with normal-course face values at ``hours`` (None: no capture time)."""
    v = normal_day(hours if hours is not None else 48)
    v.update(values)
    m = Metrics(redness=v["redness"], hemoglobin=0.0, melanin=v["melanin"], a_star=10.0,
                texture=v["texture"], flaking=v["flaking"])
    return PhotoResult(
        file=name or f"IMG_{hours}.jpg", ok=True,
        captured_at=None if hours is None else TREATED + timedelta(hours=hours),
        quality=Quality(issues),
        calibration=Calibration("colorchecker", True, 0.6) if chart else Calibration("sclera", False),
        scale_px_per_mm=4.0, face=m,
    )
