"""``python -m analyzer series``: parse, analyse the photos, print the recovery course.

:func:`format_series` is the readable table; ``--json`` prints
:meth:`SeriesResult.to_dict <analyzer.recovery.series.SeriesResult.to_dict>`.  Exit 0 with or
without flags, 1 when no photo could be analysed, 2 for usage errors.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..errors import AnalyzerError
from ..recovery.assessment import reasons_in_words
from ..recovery.series import SeriesResult, analyze_series
from ..recovery.symptoms import read_symptoms
from ..recovery.treatment import RecoveryError, Treatment, get_protocol, load_protocol
from ..result import PhotoResult
from ..service.analyzers import LazyAnalyzer, analyse_safely
from ..service.sources import collect_photos, photo_endings

__all__ = ["format_series", "run_series"]


def _parse_time(text: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecoveryError(what, f"'{text}' is not an ISO 8601 date and time",
                            "write it like 2026-11-03T09:00+01:00") from None


def _usage(msg: str) -> int:
    print(f"python -m analyzer series: error: {msg}", file=sys.stderr)
    return 2


def run_series(args, out: TextIO) -> int:
    """Run ``series`` from parsed arguments; returns the exit status."""
    try:
        treated_at = _parse_time(args.treated_at, "--treated-at")
        params = load_protocol(args.protocol_file) if args.protocol_file else None
        if params is None:
            get_protocol(args.protocol)
        treatment = Treatment(
            treated_at=treated_at, needle_depth_mm=args.needle_depth,
            protocol=params.name if params else args.protocol, protocol_params=params,
        )
        symptoms = read_symptoms(args.symptoms) if args.symptoms else ()
        dates: dict[str, datetime] = {}
        for spec in args.date:
            name, sep, when = spec.partition("=")
            if not sep or not name:
                raise RecoveryError(
                    "--date", f"'{spec}' is not FILE=ISO8601", "write it like IMG_1.jpg=2026-11-04T09:00+01:00"
                )
            dates[name] = _parse_time(when, f"--date {name}")
    except AnalyzerError as e:
        return _usage(e.message)

    files = collect_photos(args.paths, note=lambda m: print(f"note: {m}", file=sys.stderr))
    if not files:
        print(f"error: no photos found (looked for {photo_endings()})", file=sys.stderr)
        return 1
    results = _analyze_all(files)
    results = [_with_date(r, dates) for r in results]
    series = analyze_series(results, treatment, symptoms)
    for f, reason in series.skipped:
        print(f"skipped: {f}: {reason}" if not reason.startswith(f) else f"skipped: {reason}", file=sys.stderr)
    if args.json:
        out.write(json.dumps(series.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(format_series(series))
    return 0 if series.points else 1


def _with_date(r: PhotoResult, dates: dict[str, datetime]) -> PhotoResult:
    for key in (r.file, Path(r.file).name):
        if key in dates:
            return dataclasses.replace(r, captured_at=dates[key])
    return r


def _analyze_all(files: Sequence[str]) -> list[PhotoResult]:
    """Every photo analysed with one analyzer (loaded on the first photo); a photo that fails
    is a failed result, and the model failing to load fails each photo with the same reason."""
    with LazyAnalyzer() as analyzer:
        return [analyse_safely(analyzer, f, name=f) for f in files]


def _fmt(x: float, nd: int = 2, signed: bool = False) -> str:
    return format(x, f"{'+' if signed else ''}.{nd}f")


_STATUS_WORDS = {"as_expected": "AS EXPECTED", "needs_attention": "NEEDS ATTENTION",
                 "inconclusive": "CAN'T TELL YET"}


def _verdict(a) -> list[str]:
    """The verdict block that opens the report (:mod:`analyzer.recovery.assessment`)."""
    if a is None:
        return []
    lines = [f"Verdict: {_STATUS_WORDS[a.status]}. {a.headline}"]
    if a.reasons:
        label = "Why" if a.status == "inconclusive" else "Also uncertain"
        lines.append(f"  {label}: {reasons_in_words(a.reasons)}.")
    lines.append(f"  What to do: {a.advice}")
    if a.detectable_change is not None and a.needed_change is not None:
        lines.append(f"  The latest photo that passed the quality check can show a redness change of "
                     f"{a.detectable_change:.2f} EI or more; lasting redness is looked for from "
                     f"{a.needed_change:.2f} EI.")
    return lines + [""]


def _quality(p) -> str:
    """The table's quality column: reliable, reliable for texture and flaking only (the light
    not corrected, or on another colour scale than the baseline), or not reliable."""
    if p.colour_ok:
        return "ok"
    if not p.quality_ok:
        return "NOT RELIABLE"
    return "texture only (other colour scale)" if not p.same_scale else "texture only (light not corrected)"


def format_series(s: SeriesResult) -> str:
    """A readable report: the verdict first, then the day-by-day table and the flags."""
    t = s.treatment
    c = s.course
    peak = "fitted to your first photos" if c.peak_source == "fitted" else "protocol default"
    lines = _verdict(s.assessment) + [(
        f"Treatment {t.treated_at.isoformat()}, needle depth {t.needle_depth_mm:g} mm, protocol "
        f"{t.protocol}: redness expected to halve every {c.half_life_h:.0f} h "
        f"(normal {c.half_life_low_h:.0f}-{c.half_life_high_h:.0f} h) from a peak of "
        f"{c.peak_excess_ei:.1f} above baseline "
        f"({peak})."
    )]
    b = s.baseline
    if b is None:
        lines.append("No photo could be analysed.")
    else:
        label = "Baseline (ESTIMATED, no photo before treatment)" if b.estimated else "Baseline"
        lines.append(
            f"{label}: redness {b.redness:.2f}, melanin {b.melanin:.3f}, texture {b.texture:.2f} %, "
            f"flaking {b.flaking:.2f}/cm² ({b.method})."
        )
    if s.smallest_real_change is not None:
        lines.append(
            f"Smallest real change in redness between two photos: {s.smallest_real_change:.2f} "
            "(smaller changes can come from the light alone)."
        )
    for n in s.notes:
        if b is not None and b.estimated and n in b.notes:
            continue
        lines.append(f"Note: {n}")
    lines.append("")
    head = (f"{'day':>5} {'hours':>7}  {'photo':<26}{'redness':>8}{'excess':>8}{'expected':>9}"
            f"{'normal range':>15}{'±noise':>8}{'melanin':>9}{'texture':>9}{'flaking':>9}  quality")
    lines.append(head)
    for sp in s.points:
        p = sp.point
        day = f"{p.hours / 24:.1f}" if p.hours >= 0 else "base"
        rng = f"{sp.expected_low:.1f}..{sp.expected_high:.1f}"
        lines.append(
            f"{day:>5} {p.hours:>7.1f}  {Path(p.file).name[:25]:<26}{p.redness:>8.2f}"
            f"{_fmt(sp.redness_excess, signed=True):>8}{sp.expected_excess:>9.2f}{rng:>15}"
            f"{p.redness_sd:>8.2f}{p.melanin:>9.3f}{p.texture:>9.2f}{p.flaking:>9.2f}  "
            f"{_quality(p)}"
        )
    lines.append("")
    if s.flags:
        lines.append("Flags:")
        for f in s.flags:
            lines.append(f"  [{f.severity}] {f.code} at {f.hours:.0f} h: {f.message}")
    else:
        lines.append("Flags: none.")
    if any(f.severity == "urgent" for f in s.flags):
        lines.append("At least one finding is urgent: please contact your practitioner.")
    if s.points:
        last = s.points[-1]
        if last.aftercare:
            lines.append("")
            lines.append(f"Aftercare on the day of the latest photo (day {max(last.point.hours, 0) / 24:.1f}):")
            lines += [f"  - {a}" for a in last.aftercare]
    if s.skipped:
        lines.append("")
        lines.append("Skipped photos:")
        lines += [f"  - {f}: {r}" for f, r in s.skipped]
    return "\n".join(lines) + "\n"
