"""The command line: ``python -m analyzer analyze|series|fetch-model|import|export|delete|batch``.

``analyze PHOTO... [--json] [--overlay DIR]`` is a public contract (see README): with ``--json``
one object per input, one per line, in input order; exit 0 when every input was analysed, 1 when
any failed (the others are still analysed and printed), 2 for usage errors.

``series PATH... --treated-at ISO8601 [--needle-depth MM] [--symptoms FILE.csv] [--json]`` is
the recovery course (docs/recovery.md): with ``--json`` one object; exit 0 with or without
flags, 1 when no photo could be analysed, 2 for usage errors.

``import``, ``export`` and ``delete`` work on the store (docs/store.md, :mod:`analyzer.store.cli`);
``batch`` imports in parallel on Dask distributed (docs/batch.md, :mod:`analyzer.batch`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence, TextIO

from ._version import __version__
from .errors import AnalyzerError
from .result import METRIC_KEYS, REGION_KEYS, PhotoResult

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analyzer",
        description="Measure redness, pigment and texture of facial skin in photos.",
    )
    p.add_argument("--version", action="version", version=f"analyzer {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("analyze", help="analyse photos and print their measurements")
    a.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files (JPEG, PNG, WebP, TIFF, HEIC)")
    a.add_argument("--json", action="store_true", help="one JSON object per photo, one per line")
    a.add_argument("--overlay", metavar="DIR", help="write one overlay PNG per photo into DIR")

    s = sub.add_parser("series", help="follow the recovery after a treatment over a series of photos")
    s.add_argument("paths", nargs="+", metavar="PATH", help="photos, or folders of photos (jpg, jpeg, png, webp, heic)")
    s.add_argument("--treated-at", required=True, metavar="ISO8601", help="treatment time, e.g. 2026-11-03T09:00+01:00")
    s.add_argument("--needle-depth", type=float, default=1.0, metavar="MM", help="needle depth in mm, 0.25-2.5 (default 1.0)")
    s.add_argument("--protocol", default="default", metavar="NAME", help="curve parameters by name (default: default)")
    s.add_argument("--protocol-file", metavar="FILE.toml", help="curve parameters from a TOML file")
    s.add_argument("--symptoms", metavar="FILE.csv", help="symptom diary: when,symptom,level")
    s.add_argument("--date", action="append", default=[], metavar="FILE=ISO8601",
                   help="capture time for a photo that has none (repeatable)")
    s.add_argument("--json", action="store_true", help="print one JSON object")

    f = sub.add_parser("fetch-model", help="install the face landmark model into the user cache")
    f.add_argument("--dest", metavar="PATH", help="install here instead of the user cache")

    db_help = "database URL or SQLite file (default: $ANALYZER_DB_URL, else data/analyzer.db)"
    i = sub.add_parser("import", help="store and analyse photos of a patient (idempotent)")
    i.add_argument("paths", nargs="+", metavar="PHOTO_OR_FOLDER", help="photos, or folders of photos")
    i.add_argument("--patient", required=True, metavar="ID", help="the patient's pseudonym, e.g. P0012")
    i.add_argument("--name", metavar="NAME", help="the patient's display name (never exported de-identified)")
    i.add_argument("--treated-at", metavar="ISO8601", help="record a treatment at this time")
    i.add_argument("--needle-depth", type=float, metavar="MM", help="needle depth of that treatment, mm (default 1.0)")
    i.add_argument("--protocol", default="default", metavar="NAME", help="protocol of that treatment (default: default)")
    i.add_argument("--symptoms", metavar="FILE.csv", help="add a symptom diary: when,symptom,level")
    i.add_argument("--consent", action="append", default=[], choices=("care", "research"),
                   help="record that the patient gave this consent today (repeatable)")
    i.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    e = sub.add_parser("export", help="export the stored observations in long form")
    e.add_argument("--format", required=True, choices=("csv", "parquet", "json"))
    e.add_argument("--out", required=True, metavar="PATH", help="output file; the schema goes to PATH.schema.json")
    e.add_argument("--patient", metavar="ID", help="only this patient")
    e.add_argument("--identified", action="store_true",
                   help="add names and dates, for the practitioner (no research-consent filter)")
    e.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    d = sub.add_parser("delete", help="delete a patient or a photo: rows and stored files")
    who = d.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", metavar="ID", help="delete this patient and everything about them")
    who.add_argument("--photo", metavar="SHA256", help="delete this photo (SHA-256 of the original file)")
    d.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    b = sub.add_parser("batch", help="import many photos, analysed in parallel on Dask (docs/batch.md)")
    b.add_argument("paths", nargs="+", metavar="PHOTO_OR_FOLDER", help="photos, or folders of photos")
    b.add_argument("--patient", required=True, metavar="ID", help="the patient's pseudonym, e.g. P0012")
    b.add_argument("--name", metavar="NAME", help="the patient's display name (never exported de-identified)")
    b.add_argument("--treated-at", metavar="ISO8601", help="record a treatment at this time")
    b.add_argument("--needle-depth", type=float, metavar="MM", help="needle depth of that treatment, mm (default 1.0)")
    b.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local cluster (default 2; ignored with --scheduler)")
    b.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://HOST:8786")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    b.add_argument("--db", metavar="URL_OR_FILE", help=db_help)
    return p


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)  # exits 2 on usage errors
    if args.command == "fetch-model":
        return _fetch_model(args.dest, out)
    if args.command == "series":
        from .recovery.cli import run_series

        return run_series(args, out)
    if args.command in ("import", "export", "delete"):
        from .store.cli import run_store_command

        return run_store_command(args, out)
    if args.command == "batch":
        from .batch import run_batch_command

        return run_batch_command(args, out)
    return _analyze(args.photos, as_json=args.json, overlay_dir=args.overlay, out=out)


def _fetch_model(dest: str | None, out: TextIO) -> int:
    from pathlib import Path

    from .face.model import fetch_model

    try:
        path = fetch_model(Path(dest) if dest else None, log=lambda m: print(m, file=sys.stderr))
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    print(path, file=out)
    return 0


def _analyze(photos: Sequence[str], *, as_json: bool, overlay_dir: str | None, out: TextIO) -> int:
    from .overlay import write_overlay
    from .pipeline import Analyzer

    results: list[PhotoResult] = []
    keep_maps = overlay_dir is not None
    try:
        analyzer = Analyzer().__enter__()
    except AnalyzerError as e:  # e.g. the model is missing: every input fails the same way
        analyzer = None
        setup_error = e.message
    try:
        for photo in photos:
            if analyzer is None:
                result = PhotoResult.failed(photo, f"{photo}: not analysed: {setup_error}")
            else:
                result = _analyze_one(analyzer, photo, keep_maps)
            if keep_maps and result.ok:
                try:
                    write_overlay(result, overlay_dir)
                except (OSError, ValueError) as e:
                    print(f"warning: {e}", file=sys.stderr)
            results.append(result)
            if as_json:
                out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                out.flush()
    finally:
        if analyzer is not None:
            analyzer.close()
    if not as_json:
        out.write(format_table(results))
    return 0 if all(r.ok for r in results) else 1


def _analyze_one(analyzer, photo: str, keep_maps: bool) -> PhotoResult:
    try:
        return analyzer.analyze(photo, name=photo, keep_maps=keep_maps)
    except Exception as e:  # a bug must not stop the batch; say so plainly, no traceback
        return PhotoResult.failed(
            photo, f"{photo}: internal error ({type(e).__name__}: {e}); please report it with this photo"
        )


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
