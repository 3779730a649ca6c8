"""Validation harness: ``python -m analyzer.validate [--quick] [--json FILE]``.

Generates fresh photos with :mod:`analyzer.samples` (known hemoglobin, melanin, flakes, light,
room) and measures them with the full pipeline, per base face:

* **dose response** -- Spearman rho and linear R^2 of ``face.redness`` against the injected
  hemoglobin (optical density), under a neutral light and under held-out lights;
* **lighting spread** -- (max - min) of ``face.redness`` at baseline over lights x exposures x
  rooms, as a percentage of the day-1 effect (the measured change for +0.3 OD of hemoglobin),
  card-free and with a ColorChecker in the frame.  The card-free method's two parameters were
  tuned on ``TUNING_LIGHTS``; the spread is reported on ``HELD_OUT_LIGHTS`` only;
* **ColorChecker round trip** -- mean and worst CIEDE2000 of the chart patches after correction;
* **texture** -- ``face.flaking`` and ``face.texture`` on peeling days against baseline days, in
  units of their day-to-day standard deviation at baseline (a separation, like Cohen's d).

Base faces (:data:`analyzer.samples.BASES`): the astronaut portrait (NASA, public domain, via
scikit-image), on which the analyzer was developed (**tuned on**), and Grace Hopper's U.S. Navy
portrait (public domain, shipped with matplotlib), which nothing in the measurement was tuned on
(**held out**); each also with +0.5 OD melanin over the skin (a synthetic darker skin: the
erythema index is known to read differently in pigmented skin).  ``--quick`` runs a small subset
in seconds (used by the tests); ``--face NAME`` runs only the faces whose name starts so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from statistics import mean, stdev

import numpy as np
from scipy.stats import spearmanr

from .pipeline import Analyzer
from .result import PhotoResult
from .samples import BASES, NEUTRAL, Day, Light, render_day

__all__ = [
    "BASE_FACES",
    "DAY1_OD",
    "HELD_OUT_LIGHTS",
    "TUNING_LIGHTS",
    "FaceReport",
    "main",
    "validate_face",
]

DAY1_OD = 0.3
"""The day-1 effect: +0.3 optical density of hemoglobin (issue 2, docs/metrics.md)."""

TUNING_LIGHTS = (2700, 5000, 6500)
"""CCTs (K) on which the card-free method's parameters were tuned (colour/balance.py)."""

HELD_OUT_LIGHTS = (3200, 4000, 7500)
"""CCTs (K) never used for tuning: the lighting spread is reported on these."""

EXPOSURES = (0.8, 1.0, 1.2)
ROOMS = ("bathroom", "bedroom_blue", "kitchen_yellow")
AWB_STRENGTH = 0.5
"""Half of the cast left after the phone's auto white balance (a strong residual)."""

BASE_FACES = {
    "astronaut": ("astronaut", 0.0),
    "astronaut, darker skin (+0.5 OD melanin)": ("astronaut", 0.5),
    "hopper": ("hopper", 0.0),
    "hopper, darker skin (+0.5 OD melanin)": ("hopper", 0.5),
}
"""Validation face name -> (base face of :data:`analyzer.samples.BASES`, melanin added over the
skin in optical density)."""

DOSES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
PEAK_FLAKES_PER_CM2 = 5.0

LIMIT_CARD_FREE_PERCENT = 25.0
LIMIT_CHART_PERCENT = 5.0
"""Issue 3's targets for the lighting spread, % of the day-1 effect."""


@dataclass
class FaceReport:
    """What :func:`validate_face` measured for one base face (all numbers as printed)."""

    face: str
    base: str
    held_out: bool
    dose_rho_neutral: float
    dose_r2_neutral: float
    dose_rho_lights: float
    dose_r2_lights: float
    day1_effect_ei: float
    spread_card_free_ei: float
    spread_card_free_percent: float
    spread_chart_ei: float
    spread_chart_percent: float
    sd_card_free_ei: float
    sd_chart_ei: float
    chart_delta_e00_mean: float
    chart_delta_e00_max: float
    chart_found: int
    chart_photos: int
    flaking_separation: float
    texture_separation: float
    photos: int
    failures: list[str] = field(default_factory=list)
    spread_chart_found_ei: float = float("nan")
    """Lighting spread with a chart, over only the photos where the chart was found."""
    calibration_methods: dict[str, int] = field(default_factory=dict)
    """Card-free photos (no chart) by calibration method: did the card-free correction engage?"""


def _measure(az: Analyzer, day: Day, seed: int, size, name: str) -> PhotoResult:
    rgb = render_day(day, rng=np.random.default_rng(seed), size=size)
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=88)
    return az.analyze(buf.getvalue(), name=name)


def _r2(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def validate_face(
    az: Analyzer,
    face: str,
    melanin: float,
    *,
    base: str = "astronaut",
    quick: bool = False,
    size: tuple[int, int] | None = None,
    seed: int = 1,
) -> FaceReport:
    """Measure one face (see the module docstring); ``quick`` uses a small subset.

    ``face`` is the printed name, ``base`` the base face (a key of
    :data:`analyzer.samples.BASES`), ``melanin`` the optical density added over its skin.
    """
    if base not in BASES:
        raise ValueError(f"unknown base face {base!r}; choose one of {', '.join(BASES)}")
    lights = HELD_OUT_LIGHTS[:2] if quick else HELD_OUT_LIGHTS
    exposures = (1.0,) if quick else EXPOSURES
    rooms = ROOMS[:2] if quick else ROOMS
    doses = (0.0, 0.15, 0.3) if quick else DOSES
    counter = iter(range(seed * 10_000, seed * 10_000 + 10_000))
    failures: list[str] = []
    methods: Counter[str] = Counter()

    def shot(dose=0.0, light=NEUTRAL, room="bathroom", chart=False, flakes=0.0) -> PhotoResult:
        day = Day(
            hours=0.0,
            d_hemoglobin=dose,
            d_melanin=melanin,
            flakes_per_cm2=flakes,
            light=light,
            scene=room,
            with_chart=chart,
            face=base,
        )
        r = _measure(az, day, next(counter), size, f"{face} Hb{dose} {light} {room} chart={chart}")
        if not r.ok:
            failures.append(r.error or "?")
        elif not chart:
            methods[r.calibration.method] += 1
        return r

    def red(r: PhotoResult) -> float:
        return r.face.redness if r.ok and r.face else float("nan")

    # Dose response, neutral light and held-out lights.
    neutral = [red(shot(d)) for d in doses]
    lit = [red(shot(d, Light(lights[i % len(lights)], AWB_STRENGTH, 1.0))) for i, d in enumerate(doses)]
    effect = float(np.interp(DAY1_OD, doses, neutral) - neutral[0])

    # Lighting spread at baseline, card-free and with a chart.
    conditions = [(Light(c, AWB_STRENGTH, e), room) for c in lights for e in exposures for room in rooms]
    card_free = [red(shot(0.0, light, room)) for light, room in conditions]
    charted = [shot(0.0, light, room, chart=True) for light, room in conditions]
    chart_red = [red(r) for r in charted]
    residuals = [r.calibration.residual_delta_e00 for r in charted if r.ok and r.calibration.chart_found]

    # Texture: baseline days vs peeling days, each under varied lights and rooms.
    n = 3 if quick else 6
    base_days = [
        shot(0.0, Light(c, AWB_STRENGTH, 1.0), rooms[i % len(rooms)]) for i, c in enumerate((lights * n)[:n])
    ]
    peel_days = [
        shot(0.0, Light(c, AWB_STRENGTH, 1.0), rooms[i % len(rooms)], flakes=PEAK_FLAKES_PER_CM2)
        for i, c in enumerate((lights * n)[:n])
    ]

    def separation(key: str) -> float:
        b = [getattr(r.face, key) for r in base_days if r.ok]
        p = [getattr(r.face, key) for r in peel_days if r.ok]
        sd = stdev(b) if len(b) > 1 else float("nan")
        return (mean(p) - mean(b)) / sd if sd > 0 else float("inf")

    spread_cf, spread_ch = float(np.ptp(card_free)), float(np.ptp(chart_red))
    found_red = [red(r) for r in charted if r.ok and r.calibration.chart_found]
    return FaceReport(
        face=face,
        base=base,
        held_out=not BASES[base].tuned_on,
        dose_rho_neutral=float(spearmanr(doses, neutral).statistic),
        dose_r2_neutral=_r2(doses, neutral),
        dose_rho_lights=float(spearmanr(doses, lit).statistic),
        dose_r2_lights=_r2(doses, lit),
        day1_effect_ei=effect,
        spread_card_free_ei=spread_cf,
        spread_card_free_percent=100 * spread_cf / effect,
        spread_chart_ei=spread_ch,
        spread_chart_percent=100 * spread_ch / effect,
        sd_card_free_ei=float(np.std(card_free, ddof=1)),
        sd_chart_ei=float(np.std(chart_red, ddof=1)),
        chart_delta_e00_mean=float(np.mean(residuals)) if residuals else float("nan"),
        chart_delta_e00_max=float(np.max(residuals)) if residuals else float("nan"),
        chart_found=len(residuals),
        chart_photos=len(charted),
        flaking_separation=separation("flaking"),
        texture_separation=separation("texture"),
        photos=next(counter) - seed * 10_000,
        failures=failures,
        spread_chart_found_ei=float(np.ptp(found_red)) if found_red else float("nan"),
        calibration_methods=dict(sorted(methods.items())),
    )


def format_report(r: FaceReport) -> str:
    """The printed block for one base face."""
    ok_cf = "ok" if r.spread_card_free_percent <= LIMIT_CARD_FREE_PERCENT else "OVER TARGET"
    ok_ch = "ok" if r.spread_chart_percent <= LIMIT_CHART_PERCENT else "OVER TARGET"
    cf_pct, ch_pct = r.spread_card_free_percent, r.spread_chart_percent
    return "\n".join(
        [
            f"== {r.face}  [{'held out' if r.held_out else 'tuned on'}]"
            f"  ({r.photos} photos generated and analysed)",
            f"dose response, neutral light:  Spearman rho {r.dose_rho_neutral:.3f},"
            f" linear R^2 {r.dose_r2_neutral:.4f}",
            f"dose response, held-out lights: Spearman rho {r.dose_rho_lights:.3f},"
            f" linear R^2 {r.dose_r2_lights:.4f}",
            f"day-1 effect (+{DAY1_OD} OD hemoglobin): {r.day1_effect_ei:.2f} EI",
            "lighting spread, card-free (held-out lights x exposures x rooms):"
            f" {r.spread_card_free_ei:.2f} EI"
            f" = {cf_pct:.1f} % of the day-1 effect (target <= {LIMIT_CARD_FREE_PERCENT:g} %: {ok_cf});"
            f" sd {r.sd_card_free_ei:.2f} EI",
            f"lighting spread, ColorChecker in frame: {r.spread_chart_ei:.2f} EI"
            f" = {ch_pct:.1f} % of the day-1 effect (target <= {LIMIT_CHART_PERCENT:g} %: {ok_ch});"
            f" sd {r.sd_chart_ei:.2f} EI",
            *(
                [
                    f"  over the {r.chart_found} photos where the chart was found: {r.spread_chart_found_ei:.2f} EI"
                    f" = {100 * r.spread_chart_found_ei / r.day1_effect_ei:.1f} % of the day-1 effect"
                ]
                if r.chart_found < r.chart_photos
                else []
            ),
            f"ColorChecker round trip: mean dE00 {r.chart_delta_e00_mean:.2f},"
            f" worst photo {r.chart_delta_e00_max:.2f} (chart found in {r.chart_found} of {r.chart_photos})",
            f"texture: flaking on peeling days vs baseline = {r.flaking_separation:+.1f} sd;"
            f" texture = {r.texture_separation:+.1f} sd (sd = day-to-day noise at baseline)",
            "card-free calibration used: "
            + ", ".join(f"{m} {n}" for m, n in r.calibration_methods.items()),
        ]
        + ([f"failed photos: {len(r.failures)}: {r.failures[0]}"] if r.failures else [])
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analyzer.validate", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (seconds)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--face", default="", help="only the faces whose name starts with this (e.g. hopper)")
    args = ap.parse_args(argv)
    reports = []
    with Analyzer() as az:
        for face, (base, melanin) in BASE_FACES.items():
            if not face.startswith(args.face):
                continue
            r = validate_face(az, face, melanin, base=base, quick=args.quick, seed=args.seed)
            print(format_report(r), flush=True)
            print()
            reports.append(r)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in reports], f, indent=2)
    within = all(
        r.spread_card_free_percent <= LIMIT_CARD_FREE_PERCENT
        and r.spread_chart_percent <= LIMIT_CHART_PERCENT
        for r in reports
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
