"""``python -m analyzer import|export|delete`` (see docs/store.md).

Exit status: 0 on success; 1 when some photos failed to import, or the store/export failed;
2 for usage errors.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from ..errors import AnalyzerError

__all__ = ["run_store_command"]


def _usage(command: str, msg: str) -> int:
    print(f"python -m analyzer {command}: error: {msg}", file=sys.stderr)
    return 2


def run_store_command(args, out: TextIO) -> int:
    """Run ``import``, ``export`` or ``delete`` from parsed arguments; returns the exit status."""
    if args.command == "import" and args.needle_depth is not None and not args.treated_at:
        return _usage("import", "--needle-depth needs --treated-at")
    treatment = None
    if args.command == "import" and args.treated_at:
        try:
            when = datetime.fromisoformat(args.treated_at.strip())
        except ValueError:
            return _usage("import", f"--treated-at '{args.treated_at}' is not ISO 8601; "
                                    "write it like 2026-11-03T09:00+01:00")
        from ..recovery.treatment import Treatment

        try:
            treatment = Treatment(when, needle_depth_mm=1.0 if args.needle_depth is None else args.needle_depth,
                                  protocol=args.protocol)
        except AnalyzerError as e:
            return _usage("import", e.message)
    symptoms = ()
    if args.command == "import" and args.symptoms:
        from ..recovery.symptoms import read_symptoms

        try:
            symptoms = read_symptoms(args.symptoms)
        except AnalyzerError as e:
            return _usage("import", e.message)
    if args.command == "export":
        from ..export import ExportError, check_writable, schema_path_for

        try:  # fail before opening the store or doing any work
            check_writable(args.out)
            check_writable(schema_path_for(args.out))
        except ExportError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 1
    from .db import open_store

    try:
        with open_store(args.db) as store:
            if args.command == "import":
                return _import(store, args, treatment, symptoms, out)
            if args.command == "export":
                return _export(store, args, out)
            return _delete(store, args, out)
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1


def _import(store, args, treatment, symptoms, out: TextIO) -> int:
    from ..recovery.cli import collect_photos
    from .importer import import_photos
    from .records import add_symptoms, add_treatment, set_consent

    files = collect_photos(args.paths)
    summary = import_photos(store, files, patient=args.patient, display_name=args.name)
    if treatment is not None:
        add_treatment(store, args.patient, treatment)
    if symptoms:
        add_symptoms(store, args.patient, symptoms)
    for kind in args.consent:
        set_consent(store, args.patient, kind)
    out.write(summary.format())
    return 0 if summary.ok else 1


def _export(store, args, out: TextIO) -> int:
    from ..export import export_observations

    s = export_observations(store, args.out, fmt=args.format, patient=args.patient, identified=args.identified)
    out.write(f"wrote {s.rows} rows for {s.patients} patient(s) to {s.path} (schema: {s.schema_path})\n")
    return 0


def _delete(store, args, out: TextIO) -> int:
    from .records import delete_patient, delete_photo

    s = delete_patient(store, args.patient) if args.patient else delete_photo(store, args.photo)
    out.write(f"deleted {s.photos} photo(s) and {len(s.files)} stored file(s)\n")
    return 0
