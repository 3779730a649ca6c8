"""``python -m analyzer batch``: parse, record the ``--consent`` scopes, run
:func:`analyzer.service.batch.run_batch` (refused without care consent), print.  Acts as
:meth:`analyzer.service.access.Actor.operator`.

Exit status: 0 when every photo is stored and analysed, 1 when some failed (each failure is
recorded in the store with its reason and listed at the end) or the cluster failed, 2 for usage
errors.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import AnalyzerError
from ._args import UsageError, treatment_from_args

__all__ = ["run_batch_command"]


def _usage(msg: str) -> int:
    print(f"python -m analyzer batch: error: {msg}", file=sys.stderr)
    return 2


def run_batch_command(args, out: TextIO) -> int:
    """Run ``batch`` from parsed arguments; returns the exit status."""
    if args.workers < 1:
        return _usage(f"--workers {args.workers}: give at least 1")
    try:
        treatment = treatment_from_args(args)
    except UsageError as e:
        return _usage(str(e))
    from ..service.access import Actor
    from ..service.batch import BatchInterrupted, run_batch
    from ..service.patients import add_treatment
    from ..service.sources import collect_photos
    from ..store.db import open_store
    from .store import record_consents

    try:
        files = collect_photos(args.paths, note=lambda m: print(f"note: {m}", file=sys.stderr))
    except OSError as e:
        return _usage(f"cannot list {e.filename} ({e.strerror}); check the folder")
    try:
        with open_store(args.db) as store:
            actor = Actor.operator()
            record_consents(store, args.patient, args.name, args.consent, actor)
            summary = run_batch(store, files, args.patient, actor=actor, display_name=args.name,
                                workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress)
            if treatment is not None:
                add_treatment(store, args.patient, treatment, actor=actor)
    except BatchInterrupted as e:
        out.write(e.summary.format())
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    out.write(summary.format())
    return 0 if summary.ok else 1
