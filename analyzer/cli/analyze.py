"""``python -m analyzer analyze`` and ``fetch-model``: parse, call the library, print.

``analyze`` prints one JSON object per photo and line (``--json``, the public contract of the
README) or :func:`format_table`; exit 0 when every photo was analysed, 1 when any failed.  The
model is loaded on the first photo (:class:`~analyzer.service.analyzers.LazyAnalyzer`); when it
cannot be, every photo fails with the same message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ..errors import AnalyzerError
from ..result import PhotoResult
from ..service.analyzers import LazyAnalyzer, analyse_safely
from ..vocab import METRIC_KEYS, REGION_KEYS

__all__ = ["format_table", "run_analyze", "run_fetch_model"]


def run_fetch_model(dest: str | None, out: TextIO, *, from_file: str | None = None) -> int:
    """``fetch-model [--dest PATH] [--from FILE]``: install the landmark model (downloaded, or a
    copied file checked against its SHA-256), print its path."""
    from ..face.model import fetch_model

    try:
        path = fetch_model(Path(dest) if dest else None, log=lambda m: print(m, file=sys.stderr),
                           **({"from_file": Path(from_file)} if from_file else {}))
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    print(path, file=out)
    return 0


def run_analyze(photos: Sequence[str], *, as_json: bool, overlay_dir: str | None, out: TextIO) -> int:
    """``analyze PHOTO... [--json] [--overlay DIR]``; returns the exit status."""
    from ..overlay import write_overlay

    results: list[PhotoResult] = []
    keep_maps = overlay_dir is not None
    with LazyAnalyzer() as analyzer:
        for photo in photos:
            result = analyse_safely(analyzer, photo, name=photo, keep_maps=keep_maps)
            if keep_maps and result.ok:
                try:
                    write_overlay(result, overlay_dir)
                except (OSError, ValueError) as e:
                    print(f"warning: {e}", file=sys.stderr)
            results.append(result)
            if as_json:
                out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                out.flush()
    if not as_json:
        out.write(format_table(results))
    return 0 if all(r.ok for r in results) else 1


def format_table(results: Sequence[PhotoResult]) -> str:
    """A readable report: one block per photo with the face and per-region numbers."""
    lines: list[str] = []
    head = f"{'region':<12}" + "".join(f"{k:>11}" for k in METRIC_KEYS)
    for r in results:
        lines.append(f"== {r.file}")
        if not r.ok:
            lines.append(f"   FAILED  {r.error}")
            lines.append("")
            continue
        when = r.captured_at.isoformat() if r.captured_at else "unknown"
        cal = r.calibration
        cal_text = cal.method + (f" (residual dE00 {cal.residual_delta_e00:.2f})" if cal.chart_found else "")
        lines.append(
            f"   captured {when}   {r.width}x{r.height} px   "
            f"{r.scale_px_per_mm:.2f} px/mm   light: {cal_text}"
        )
        lines.append(f"   quality: {'ok' if r.quality.ok else 'NOT RELIABLE'}")
        for issue in r.quality.issues:
            lines.append(f"     - [{issue.code}] {issue.message}")
        lines.append("   " + head)
        rows = [("face", r.face)] + [(k, r.regions.get(k)) for k in REGION_KEYS]
        for name, m in rows:
            if m is None:
                continue
            d = m.to_dict()
            cells = "".join(f"{'-' if d[k] is None else format(d[k], '.3f'):>11}" for k in METRIC_KEYS)
            lines.append(f"   {name:<12}{cells}")
        lines.append("")
    ok = sum(r.ok for r in results)
    lines.append(f"{ok} of {len(results)} photos analysed.")
    return "\n".join(lines) + "\n"
