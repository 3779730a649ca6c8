"""Validation harness: ``python -m analyzer.validate [--quick] [--json FILE] [--face NAME]``.

Generates fresh photos with :mod:`analyzer.samples` (known hemoglobin, melanin, flakes, light,
room) and measures them with the full pipeline, per face and per resolution (every photo is
measured as a selfie and downsized to 1.5 px/mm, :mod:`analyzer.validate_courses`):

* **dose response** -- Spearman rho and linear R^2 of ``face.redness`` against the injected
  hemoglobin (optical density), under a neutral light and under held-out lights;
* **lighting spread** -- (max - min) of ``face.redness`` at baseline as a percentage of the
  day-1 effect (the measured change for +0.3 OD of hemoglobin), card-free and with a
  ColorChecker in the frame, over (a) held-out lights x fixed exposures x rooms (the figure
  kept since issue 3), (b) face-metered exposure (as phones meter on the face) under lights
  beyond the tuning set, 2400-10000 K, x four rooms, and (c) every photo of (a) and (b) that the
  analyzer accepts (issue 11's target).  The card-free method's two parameters were tuned on
  ``TUNING_LIGHTS``; no lighting figure uses them;
* **ColorChecker round trip** -- mean and worst CIEDE2000 of the chart patches after correction;
* **texture** -- ``face.flaking`` and ``face.texture`` on peeling days against baseline days, in
  units of their day-to-day standard deviation at baseline (a separation, like Cohen's d);
* **outcomes** -- photos accepted, refused, and accepted without light correction;
* **flag results** -- the four sample courses judged right or wrong
  (:mod:`analyzer.validate_courses`).

Base faces (:data:`analyzer.samples.BASES`): the astronaut portrait (NASA, public domain), on
which the analyzer was developed (**tuned on**); Grace Hopper's U.S. Navy portrait (public
domain, shipped with matplotlib) and Luis Pedro Coelho's own portrait (shipped with mahotas,
MIT), on which nothing in the measurement was tuned (**held out**); each also with +0.5 OD
melanin over the skin (a synthetic darker skin).  The summary at the end separates lighter
(as photographed) and darker (+0.5 OD) skin.  ``--quick`` runs a small subset of photos on the
three faces as photographed, without the courses (the tests use the same subset);
``--face NAME`` runs only the faces whose name starts so (with ``--quick``, their darker
variants too).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from statistics import mean, median, stdev

import numpy as np
from scipy.stats import spearmanr

from .pipeline import Analyzer
from .recovery.relative import anchor_of, shift_to
from .result import PhotoResult
from .samples import BASES, METERED_FACE_LUMINANCE, NEUTRAL, Day, Light
from .settings import DEFAULT, Settings
from .validate_courses import RESOLUTIONS, measure_pair, photo_outcome, validate_courses

__all__ = [
    "BASE_FACES",
    "DAY1_OD",
    "HELD_OUT_LIGHTS",
    "METERED_LIGHTS",
    "TUNING_LIGHTS",
    "Condition",
    "FaceReport",
    "collect_face",
    "face_report",
    "format_report",
    "format_summary",
    "main",
    "settings_for",
    "validate_face",
]

DAY1_OD = 0.3
"""The day-1 effect: +0.3 optical density of hemoglobin (issue 2, docs/metrics.md)."""

TUNING_LIGHTS = (2700, 5000, 6500)
"""CCTs (K) on which the card-free method's parameters were tuned (colour/balance.py)."""

HELD_OUT_LIGHTS = (3200, 4000, 7500)
"""CCTs (K) never used for tuning: the fixed-exposure lighting spread is reported on these."""

METERED_LIGHTS = (2400, 3200, 4000, 7500, 10000)
"""CCTs (K) of the face-metered conditions: the held-out lights plus a very warm 2400 K
(candle-like LED) and 10000 K (blue open shade), both beyond the tuning range."""

EXPOSURES = (0.8, 1.0, 1.2)
ROOMS = ("bathroom", "bedroom_blue", "kitchen_yellow")
METERED_ROOMS = ROOMS + ("office_green",)
AWB_STRENGTH = 0.5
"""Half of the cast left after the phone's auto white balance (a strong residual)."""

BASE_FACES = {
    "astronaut": ("astronaut", 0.0),
    "astronaut, darker skin (+0.5 OD melanin)": ("astronaut", 0.5),
    "hopper": ("hopper", 0.0),
    "hopper, darker skin (+0.5 OD melanin)": ("hopper", 0.5),
    "luispedro": ("luispedro", 0.0),
    "luispedro, darker skin (+0.5 OD melanin)": ("luispedro", 0.5),
}
"""Validation face name -> (base face of :data:`analyzer.samples.BASES`, melanin added over the
skin in optical density)."""

HEAD_TURN_ALLOWANCE_DEG = {"luispedro": 30.0}
"""``max_yaw_deg`` used for base faces whose portrait is not frontal.  Luis Pedro Coelho's photo
is a three-quarter view (yaw about 26 degrees by the landmarks): at the default 20 degrees every
photo of it is refused as ``head_turned``, which is right for a patient but leaves nothing to
validate.  Only this quality-gate threshold is changed, and the report says so."""

DOSES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
PEAK_FLAKES_PER_CM2 = 5.0

LIMIT_CARD_FREE_PERCENT = 25.0
LIMIT_CHART_PERCENT = 5.0
"""Issue 3's targets for the lighting spread, % of the day-1 effect."""

_NAN = float("nan")


def settings_for(base: str, settings: Settings = DEFAULT) -> Settings:
    """The analyzer settings to validate base face ``base`` with (see
    :data:`HEAD_TURN_ALLOWANCE_DEG`)."""
    if base in HEAD_TURN_ALLOWANCE_DEG:
        return replace(settings, max_yaw_deg=HEAD_TURN_ALLOWANCE_DEG[base])
    return settings


@dataclass(frozen=True)
class Condition:
    """One generated photo of the harness and its results at both resolutions.

    Attributes
    ----------
    kind : str
        ``dose_neutral``, ``dose_lights``, ``fixed`` (held-out light x fixed exposure x room),
        ``metered`` (face-metered exposure), ``texture_base`` or ``texture_peel``.
    dose : float
        Hemoglobin added, OD.
    light : Light
    room : str
    chart : bool
    results : dict of str -> PhotoResult
        By resolution.
    exposure : float
        The exposure the photo was taken at (face-metered or fixed).
    """

    kind: str
    dose: float
    light: Light
    room: str
    chart: bool
    results: dict[str, PhotoResult]
    exposure: float


@dataclass
class FaceReport:
    """What :func:`face_report` measured for one face at one resolution (all numbers as printed).

    The ``spread_*`` figures without a suffix are over the held-out lights at fixed exposures
    (as before issue 11); ``*_metered_*`` over the face-metered conditions; ``*_accepted_*``
    over every photo of both that the analyzer accepted.
    """

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
    spread_chart_found_ei: float = _NAN
    """Lighting spread with a chart, over only the photos where the chart was found."""
    calibration_methods: dict[str, int] = field(default_factory=dict)
    """Card-free photos (no chart) by calibration method: did the card-free correction engage?"""
    resolution: str = "selfie"
    melanin_od: float = 0.0
    px_per_mm_measured: float = _NAN
    """Median scale the analyzer measured on this face at this resolution, px/mm."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """Photos accepted / refused / not_corrected (accepted without light correction)."""
    spread_card_free_metered_percent: float = _NAN
    spread_chart_metered_percent: float = _NAN
    metered_exposure_range: tuple[float, float] = (_NAN, _NAN)
    spread_card_free_accepted_percent: float = _NAN
    spread_chart_accepted_percent: float = _NAN
    accepted_card_free: tuple[int, int] = (0, 0)
    """(accepted, photos) of the card-free spread conditions (fixed and metered)."""
    accepted_chart: tuple[int, int] = (0, 0)
    max_yaw_deg: float = DEFAULT.max_yaw_deg
    spread_card_free_series_percent: float = _NAN
    """Card-free spread as a series reads the photos (fixed + metered): each photo's own light
    correction, else mapped through the eyes onto the neutral baseline photo
    (:mod:`analyzer.recovery.relative`); photos neither way are not used for redness."""
    series_card_free: tuple[int, int, int] = (0, 0, 0)
    """(own correction, mapped through the eyes, photos) behind that spread."""
    courses: list[dict] = field(default_factory=list)
    """Flag results: :meth:`analyzer.validate_courses.CourseJudgement.to_dict` per course."""


def collect_face(
    az: Analyzer,
    base: str,
    melanin: float,
    *,
    quick: bool = False,
    size: tuple[int, int] | None = None,
    seed: int = 1,
    label: str = "",
) -> list[Condition]:
    """Generate every photo of the harness for one face and analyse it at both resolutions.

    This is the per-condition record the figures are computed from (:func:`face_report`).
    ``quick`` uses a small subset.

    Raises
    ------
    ValueError
        Unknown base face.
    """
    if base not in BASES:
        raise ValueError(f"unknown base face {base!r}; choose one of {', '.join(BASES)}")
    lights = HELD_OUT_LIGHTS[:2] if quick else HELD_OUT_LIGHTS
    exposures = (1.0,) if quick else EXPOSURES
    rooms = ROOMS[:2] if quick else ROOMS
    doses = (0.0, 0.15, 0.3) if quick else DOSES
    metered = [(c, r) for c in (2400, 10000) for r in ROOMS[:1]] if quick else [
        (c, r) for c in METERED_LIGHTS for r in METERED_ROOMS]  # fmt: skip
    counter = iter(range(seed * 10_000, seed * 10_000 + 10_000))
    out: list[Condition] = []

    def shot(kind, dose=0.0, light=NEUTRAL, room="bathroom", chart=False, flakes=0.0, meter=False):
        day = Day(hours=0.0, d_hemoglobin=dose, d_melanin=melanin, flakes_per_cm2=flakes, light=light,
                  scene=room, with_chart=chart, face=base,
                  metered_luminance=METERED_FACE_LUMINANCE if meter else None)  # fmt: skip
        name = f"{label or base} {kind} Hb{dose} {light.cct_k:g}K {room} chart={chart}"
        pair = measure_pair(az, day, np.random.default_rng(next(counter)), name, size=size)
        out.append(Condition(kind, dose, light, room, chart, dict(pair.results), pair.exposure))

    for d in doses:
        shot("dose_neutral", d)
    for i, d in enumerate(doses):
        shot("dose_lights", d, Light(lights[i % len(lights)], AWB_STRENGTH, 1.0))
    for chart in (False, True):
        for c in lights:
            for e in exposures:
                for room in rooms:
                    shot("fixed", 0.0, Light(c, AWB_STRENGTH, e), room, chart)
    n = 3 if quick else 6
    for kind, flakes in (("texture_base", 0.0), ("texture_peel", PEAK_FLAKES_PER_CM2)):
        for i, c in enumerate((lights * n)[:n]):
            shot(kind, 0.0, Light(c, AWB_STRENGTH, 1.0), rooms[i % len(rooms)], flakes=flakes)
    # Last, so that every photo above has the seed it had before issue 11 (comparable figures).
    for chart in (False, True):
        for c, room in metered:
            shot("metered", 0.0, Light(c, AWB_STRENGTH, 1.0), room, chart, meter=True)
    return out


def _r2(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1] ** 2) if ok.sum() > 2 else _NAN


def _rho(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    return float(spearmanr(x[ok], y[ok]).statistic) if ok.sum() > 2 else _NAN


def _red(r: PhotoResult) -> float:
    return r.face.redness if r.ok and r.face else _NAN


def _ptp(values) -> float:
    v = [x for x in values if np.isfinite(x)]
    return float(np.ptp(v)) if v else _NAN


def face_report(
    face: str, base: str, melanin: float, conditions: Sequence[Condition], resolution: str = "selfie"
) -> FaceReport:
    """The figures of one face at one resolution from :func:`collect_face`'s conditions."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; choose one of {', '.join(RESOLUTIONS)}")

    def of(kind, chart=None):
        return [c for c in conditions if c.kind == kind and (chart is None or c.chart == chart)]

    def res(c: Condition) -> PhotoResult:
        return c.results[resolution]

    every = [res(c) for c in conditions]
    failures = [r.error or "?" for r in every if not r.ok]
    methods = Counter(res(c).calibration.method for c in conditions if not c.chart and res(c).ok)
    outcomes = Counter(photo_outcome(r) for r in every)
    scales = [r.scale_px_per_mm for r in every if r.ok and r.scale_px_per_mm]

    doses = [c.dose for c in of("dose_neutral")]
    neutral = [_red(res(c)) for c in of("dose_neutral")]
    lit = [_red(res(c)) for c in of("dose_lights")]
    effect = float(np.interp(DAY1_OD, doses, neutral) - neutral[0]) if np.isfinite(neutral).all() else _NAN

    def pct(ei: float) -> float:
        return 100 * ei / effect if effect else _NAN

    card_free = [_red(res(c)) for c in of("fixed", False)]
    charted = [res(c) for c in of("fixed", True)]
    chart_red = [_red(r) for r in charted]
    residuals = [r.calibration.residual_delta_e00 for r in charted if r.ok and r.calibration.chart_found]
    found_red = [_red(r) for r in charted if r.ok and r.calibration.chart_found]
    metered_cf = [_red(res(c)) for c in of("metered", False)]
    metered_ch = [_red(res(c)) for c in of("metered", True)]
    exposures = [c.exposure for c in of("metered")]

    def accepted(chart: bool) -> tuple[list[float], int]:
        pool = of("fixed", chart) + of("metered", chart)
        return [_red(res(c)) for c in pool if photo_outcome(res(c)) != "refused"], len(pool)

    acc_cf, n_cf = accepted(False)
    acc_ch, n_ch = accepted(True)

    # As the series reads them: the photo's own correction, else mapped through the eyes onto
    # the patient's baseline photo (the neutral, dose-0 one).
    base_refs = [res(c).light_reference for c in of("dose_neutral")[:1] if res(c).ok and res(c).light_reference]
    anc = anchor_of(base_refs) if base_refs else None
    series_cf, own, mapped = [], 0, 0
    for c in of("fixed", False) + of("metered", False):
        r, shift = res(c), None
        if photo_outcome(r) == "accepted":
            series_cf.append(_red(r))
            own += 1
        elif photo_outcome(r) == "not_corrected" and anc is not None:
            shift = shift_to(r.light_reference, anc)
        if shift is not None:
            series_cf.append(_red(r) + shift.redness)
            mapped += 1

    def separation(key: str) -> float:
        b = [getattr(res(c).face, key) for c in of("texture_base") if res(c).ok]
        p = [getattr(res(c).face, key) for c in of("texture_peel") if res(c).ok]
        sd = stdev(b) if len(b) > 1 else _NAN
        return (mean(p) - mean(b)) / sd if sd > 0 and p else _NAN

    spread_cf, spread_ch = _ptp(card_free), _ptp(chart_red)
    return FaceReport(
        face=face,
        base=base,
        held_out=not BASES[base].tuned_on,
        dose_rho_neutral=_rho(doses, neutral),
        dose_r2_neutral=_r2(doses, neutral),
        dose_rho_lights=_rho(doses, lit),
        dose_r2_lights=_r2(doses, lit),
        day1_effect_ei=effect,
        spread_card_free_ei=spread_cf,
        spread_card_free_percent=pct(spread_cf),
        spread_chart_ei=spread_ch,
        spread_chart_percent=pct(spread_ch),
        sd_card_free_ei=float(np.nanstd(card_free, ddof=1)),
        sd_chart_ei=float(np.nanstd(chart_red, ddof=1)),
        chart_delta_e00_mean=float(np.mean(residuals)) if residuals else _NAN,
        chart_delta_e00_max=float(np.max(residuals)) if residuals else _NAN,
        chart_found=len(residuals),
        chart_photos=len(charted),
        flaking_separation=separation("flaking"),
        texture_separation=separation("texture"),
        photos=len(conditions),
        failures=failures,
        spread_chart_found_ei=_ptp(found_red),
        calibration_methods=dict(sorted(methods.items())),
        resolution=resolution,
        melanin_od=melanin,
        px_per_mm_measured=float(median(scales)) if scales else _NAN,
        outcomes={k: outcomes.get(k, 0) for k in ("accepted", "not_corrected", "refused")},
        spread_card_free_metered_percent=pct(_ptp(metered_cf)),
        spread_chart_metered_percent=pct(_ptp(metered_ch)),
        metered_exposure_range=(min(exposures), max(exposures)) if exposures else (_NAN, _NAN),
        spread_card_free_accepted_percent=pct(_ptp(acc_cf)),
        spread_chart_accepted_percent=pct(_ptp(acc_ch)),
        accepted_card_free=(len(acc_cf), n_cf),
        accepted_chart=(len(acc_ch), n_ch),
        spread_card_free_series_percent=pct(_ptp(series_cf)),
        series_card_free=(own, mapped, n_cf),
    )


def validate_face(
    az: Analyzer,
    face: str,
    melanin: float,
    *,
    base: str = "astronaut",
    quick: bool = False,
    size: tuple[int, int] | None = None,
    seed: int = 1,
    resolution: str = "selfie",
) -> FaceReport:
    """Measure one face at one resolution (see the module docstring); ``quick`` uses a small
    subset.  To get both resolutions from one set of photos, call :func:`collect_face` once and
    :func:`face_report` per resolution.

    ``face`` is the printed name, ``base`` the base face (a key of
    :data:`analyzer.samples.BASES`), ``melanin`` the optical density added over its skin.
    """
    conditions = collect_face(az, base, melanin, quick=quick, size=size, seed=seed, label=face)
    r = face_report(face, base, melanin, conditions, resolution)
    r.max_yaw_deg = az.settings.max_yaw_deg
    return r


def _ok(value: float, limit: float) -> str:
    if not np.isfinite(value):
        return "not measured"
    return "ok" if value <= limit else "OVER TARGET"


def _courses_line(courses: Sequence[dict]) -> str:
    if not courses:
        return "flag results: not run (--quick)"
    right = sum(c["right"] for c in courses)
    parts = [f"{c['course']} {c['status']} -> {c['judgement']}" for c in courses]
    return f"flag results: {right} of {len(courses)} right: " + "; ".join(parts)


def format_report(r: FaceReport) -> str:
    """The printed block for one face at one resolution."""
    cf_pct, ch_pct = r.spread_card_free_percent, r.spread_chart_percent
    o = r.outcomes
    gate = "" if r.max_yaw_deg == DEFAULT.max_yaw_deg else f"; head-turn gate {r.max_yaw_deg:g} deg (see docs)"
    lines = [
        f"== {r.face}, {r.resolution}  [{'held out' if r.held_out else 'tuned on'}]"
        f"  ({r.photos} photos generated and analysed{gate})",
        f"scale measured: {r.px_per_mm_measured:.2f} px/mm;"
        f" photos accepted {o.get('accepted', 0)}, accepted without light correction"
        f" {o.get('not_corrected', 0)}, refused {o.get('refused', 0)}",
        f"dose response, neutral light:  Spearman rho {r.dose_rho_neutral:.3f},"
        f" linear R^2 {r.dose_r2_neutral:.4f}",
        f"dose response, held-out lights: Spearman rho {r.dose_rho_lights:.3f},"
        f" linear R^2 {r.dose_r2_lights:.4f}",
        f"day-1 effect (+{DAY1_OD} OD hemoglobin): {r.day1_effect_ei:.2f} EI",
        "lighting spread, card-free (held-out lights x exposures x rooms):"
        f" {r.spread_card_free_ei:.2f} EI = {cf_pct:.1f} % of the day-1 effect"
        f" (target <= {LIMIT_CARD_FREE_PERCENT:g} %: {_ok(cf_pct, LIMIT_CARD_FREE_PERCENT)}); sd {r.sd_card_free_ei:.2f} EI",
        f"lighting spread, ColorChecker in frame: {r.spread_chart_ei:.2f} EI"
        f" = {ch_pct:.1f} % of the day-1 effect (target <= {LIMIT_CHART_PERCENT:g} %:"
        f" {_ok(ch_pct, LIMIT_CHART_PERCENT)}); sd {r.sd_chart_ei:.2f} EI",
    ]
    if r.chart_found < r.chart_photos and r.day1_effect_ei:
        lines.append(f"  over the {r.chart_found} photos where the chart was found: {r.spread_chart_found_ei:.2f} EI"
                     f" = {100 * r.spread_chart_found_ei / r.day1_effect_ei:.1f} % of the day-1 effect")
    lo, hi = r.metered_exposure_range
    lines += [
        f"face-metered exposure ({lo:.2f}-{hi:.2f}), lights 2400-10000 K x 4 rooms: spread card-free"
        f" {r.spread_card_free_metered_percent:.1f} %, with chart {r.spread_chart_metered_percent:.1f} %",
        f"over the accepted photos (fixed + metered): card-free {r.spread_card_free_accepted_percent:.1f} %"
        f" ({r.accepted_card_free[0]} of {r.accepted_card_free[1]} accepted;"
        f" {_ok(r.spread_card_free_accepted_percent, LIMIT_CARD_FREE_PERCENT)}),"
        f" with chart {r.spread_chart_accepted_percent:.1f} % ({r.accepted_chart[0]} of {r.accepted_chart[1]};"
        f" {_ok(r.spread_chart_accepted_percent, LIMIT_CHART_PERCENT)})",
        f"card-free as the series reads it (own correction {r.series_card_free[0]}, mapped through the eyes"
        f" {r.series_card_free[1]}, of {r.series_card_free[2]}): spread {r.spread_card_free_series_percent:.1f} %"
        f" ({_ok(r.spread_card_free_series_percent, LIMIT_CARD_FREE_PERCENT)}); the rest are not used for redness",
        f"ColorChecker round trip: mean dE00 {r.chart_delta_e00_mean:.2f},"
        f" worst photo {r.chart_delta_e00_max:.2f} (chart found in {r.chart_found} of {r.chart_photos})",
        f"texture: flaking on peeling days vs baseline = {r.flaking_separation:+.1f} sd;"
        f" texture = {r.texture_separation:+.1f} sd (sd = day-to-day noise at baseline)",
        "card-free calibration used: " + ", ".join(f"{m} {n}" for m, n in r.calibration_methods.items()),
        _courses_line(r.courses),
    ]
    if r.failures:
        lines.append(f"failed photos: {len(r.failures)}: {r.failures[0]}")
    return "\n".join(lines)


def _tone(r: FaceReport) -> str:
    return "darker (+0.5 OD)" if r.melanin_od > 0 else "lighter (as photographed)"


def format_summary(reports: Sequence[FaceReport]) -> str:
    """The closing table: every face and resolution, grouped by skin tone, with the flag results
    totalled per tone and resolution."""
    head = (f"{'skin':<26}{'face':<11}{'res':<10}{'px/mm':>6}{'acc/nc/ref':>12}{'rho n/l':>12}{'R2 n/l':>12}"
            f"{'cf %':>8}{'chart %':>8}{'cf acc %':>9}{'ch acc %':>9}  flags right")  # fmt: skip
    lines = ["SUMMARY BY SKIN TONE (spreads in % of the day-1 effect; acc/nc/ref = accepted /"
             " accepted without light correction / refused)", head]  # fmt: skip
    for tone in ("lighter (as photographed)", "darker (+0.5 OD)"):
        for res in RESOLUTIONS:
            group = [r for r in reports if _tone(r) == tone and r.resolution == res]
            for r in group:
                o = r.outcomes
                right = f"{sum(c['right'] for c in r.courses)}/{len(r.courses)}" if r.courses else "-"
                lines.append(
                    f"{tone:<26}{r.base:<11}{res:<10}{r.px_per_mm_measured:>6.2f}"
                    f"{o.get('accepted', 0):>4}/{o.get('not_corrected', 0)}/{o.get('refused', 0):<3}"
                    f"{r.dose_rho_neutral:>6.2f}/{r.dose_rho_lights:<5.2f}{r.dose_r2_neutral:>6.2f}/{r.dose_r2_lights:<5.2f}"
                    f"{r.spread_card_free_percent:>8.1f}{r.spread_chart_percent:>8.1f}"
                    f"{r.spread_card_free_accepted_percent:>9.1f}{r.spread_chart_accepted_percent:>9.1f}  {right}"
                )
            courses = [c for r in group for c in r.courses]
            if courses:
                errors = Counter(c["judgement"] for c in courses if not c["right"])
                lines.append(
                    f"  {tone}, {res}: flag results {sum(c['right'] for c in courses)} of {len(courses)} right"
                    f" ({sum(c['judgement'] == 'right (inconclusive)' for c in courses)} of them inconclusive);"
                    f" wrong 'as expected' {errors.get('wrong: as expected', 0)},"
                    f" false warnings {sum(len(c['false_warnings']) > 0 for c in courses)},"
                    f" missed with another verdict {errors.get('wrong: missed', 0)}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analyzer.validate", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a small subset: the faces as photographed, no courses (about a minute)")  # fmt: skip
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--face", default="", help="only the faces whose name starts with this (e.g. hopper)")
    args = ap.parse_args(argv)
    reports: list[FaceReport] = []
    analyzers: dict[Settings, Analyzer] = {}
    with ExitStack() as stack:
        for face, (base, melanin) in BASE_FACES.items():
            if not face.startswith(args.face) or (args.quick and melanin and not args.face):
                continue  # --quick: the three faces as photographed, unless --face names one
            settings = settings_for(base)
            if settings not in analyzers:
                analyzers[settings] = stack.enter_context(Analyzer(settings))
            az = analyzers[settings]
            conditions = collect_face(az, base, melanin, quick=args.quick, seed=args.seed, label=face)
            judged = {} if args.quick else validate_courses(az, face=base, melanin=melanin, seed=args.seed)
            for res in RESOLUTIONS:
                r = face_report(face, base, melanin, conditions, res)
                r.max_yaw_deg = settings.max_yaw_deg
                r.courses = [j.to_dict() for j in judged.get(res, [])]
                print(format_report(r), flush=True)
                print()
                reports.append(r)
    print(format_summary(reports))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in reports], f, indent=2)
    within = all(
        r.spread_card_free_percent <= LIMIT_CARD_FREE_PERCENT and r.spread_chart_percent <= LIMIT_CHART_PERCENT
        for r in reports
        if r.resolution == "selfie"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
