"""``python -m analyzer backup OUT`` and ``restore IN [--force]`` (see docs/store.md): parse, call, print.

Both act as :meth:`analyzer.service.access.Actor.operator` and run
:func:`analyzer.service.backup.backup` or :func:`~analyzer.service.backup.restore`.  One line
on stdout says what was written (files, bytes, schema revision); a photo whose file was already
missing from the store is named on stderr as a warning.  Exit status: 0 on success, 1 with
``error: <message>`` on stderr when the backup or restore was refused or failed.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..errors import AnalyzerError

__all__ = ["run_backup_command"]


def run_backup_command(args, out: TextIO) -> int:
    """Run ``backup`` or ``restore`` from parsed arguments; returns the exit status."""
    from ..service.access import Actor
    from ..service.backup import backup, restore
    from ..store.db import open_store

    actor = Actor.operator()
    try:
        if args.command == "backup":
            with open_store(args.db) as store:
                summary = backup(store, args.out, actor=actor)
            for rel in summary.missing:
                print(f"warning: {rel} is named by the store but its file was missing; not in the snapshot",
                      file=sys.stderr)
        else:
            summary = restore(args.db, args.snapshot, actor=actor, force=args.force)
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    out.write(summary.format())
    return 0
