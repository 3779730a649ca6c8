"""``python -m analyzer import|export|delete`` (see docs/store.md): parse, call, print.

``import`` first records the consents given with ``--consent`` (the patient created if new),
then runs :func:`analyzer.service.imports.import_photos` on the photos and folders given
(:func:`analyzer.service.sources.collect_photos`: refused without care consent), then records the
treatment and diary; ``export`` runs :func:`analyzer.service.export.export_observations`;
``delete`` :func:`analyzer.service.patients.delete_patient` or ``delete_photo``.  Every command
acts as :meth:`analyzer.service.access.Actor.operator` (audited under the OS account's name).

Exit status: 0 on success; 1 when some photos failed to import, or the store/export failed;
2 for usage errors.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import AnalyzerError
from ..store.db import open_store
from ._args import UsageError, treatment_from_args

__all__ = ["run_store_command"]


def _usage(command: str, msg: str) -> int:
    print(f"python -m analyzer {command}: error: {msg}", file=sys.stderr)
    return 2


def run_store_command(args, out: TextIO) -> int:
    """Run ``import``, ``export`` or ``delete`` from parsed arguments; returns the exit status."""
    treatment = None
    if args.command == "import":
        try:
            treatment = treatment_from_args(args)
        except UsageError as e:
            return _usage("import", str(e))
    symptoms = ()
    if args.command == "import" and args.symptoms:
        from ..recovery.symptoms import read_symptoms

        try:
            symptoms = read_symptoms(args.symptoms)
        except AnalyzerError as e:
            return _usage("import", e.message)
    if args.command == "export":
        from ..service.export import ExportError, check_writable, schema_path_for

        try:  # fail before opening the store or doing any work
            check_writable(args.out)
            check_writable(schema_path_for(args.out))
        except ExportError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return 1
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


def record_consents(store, patient: str, name: str | None, scopes, actor) -> None:
    """The consents of ``--consent`` (the patient created if new), before anything is stored."""
    from ..service.consent import give_consent
    from ..service.patients import ensure_patient

    if not scopes:
        return
    ensure_patient(store, patient, name, actor=actor)
    for scope in dict.fromkeys(scopes):
        give_consent(store, patient, scope, actor=actor)


def _import(store, args, treatment, symptoms, out: TextIO) -> int:
    from ..service.access import Actor
    from ..service.imports import import_photos
    from ..service.patients import add_symptoms, add_treatment
    from ..service.sources import collect_photos

    actor = Actor.operator()
    record_consents(store, args.patient, args.name, args.consent, actor)
    files = collect_photos(args.paths, note=lambda m: print(f"note: {m}", file=sys.stderr))
    summary = import_photos(store, files, args.patient, actor=actor, display_name=args.name)
    if treatment is not None:
        add_treatment(store, args.patient, treatment, actor=actor)
    if symptoms:
        add_symptoms(store, args.patient, symptoms, actor=actor)
    out.write(summary.format())
    return 0 if summary.ok else 1


def _export(store, args, out: TextIO) -> int:
    from ..service.access import Actor
    from ..service.export import export_observations

    s = export_observations(store, args.out, actor=Actor.operator(), fmt=args.format, patient=args.patient,
                            identified=args.identified, study=args.study)
    out.write(f"wrote {s.rows} rows for {s.patients} patient(s) to {s.path} (schema: {s.schema_path})\n")
    return 0


def _delete(store, args, out: TextIO) -> int:
    from ..service.access import Actor
    from ..service.patients import delete_patient, delete_photo

    actor = Actor.operator()
    s = (delete_patient(store, args.patient, actor=actor) if args.patient
         else delete_photo(store, args.photo, actor=actor))
    out.write(f"deleted {s.photos} photo(s) and {len(s.files)} stored file(s)\n")
    return 0
