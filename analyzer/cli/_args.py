"""Arguments shared by several commands."""

from __future__ import annotations

from datetime import datetime

from ..errors import AnalyzerError

__all__ = ["UsageError", "treatment_from_args"]


class UsageError(Exception):
    """A command-line argument is wrong; the message says which and how to write it."""


def treatment_from_args(args):
    """The treatment that ``--treated-at``/``--needle-depth`` (and ``--protocol`` when the
    command has it) describe, or None when ``--treated-at`` is not given.

    Raises
    ------
    UsageError
        ``--needle-depth`` without ``--treated-at``, a time that is not ISO 8601, or a depth or
        protocol the treatment refuses.
    """
    if args.needle_depth is not None and not args.treated_at:
        raise UsageError("--needle-depth needs --treated-at")
    if not args.treated_at:
        return None
    try:
        when = datetime.fromisoformat(args.treated_at.strip())
    except ValueError:
        raise UsageError(f"--treated-at '{args.treated_at}' is not ISO 8601; "
                         "write it like 2026-11-03T09:00+01:00") from None
    from ..recovery.treatment import Treatment

    extra = {"protocol": args.protocol} if getattr(args, "protocol", None) else {}
    try:
        return Treatment(when, needle_depth_mm=1.0 if args.needle_depth is None else args.needle_depth, **extra)
    except AnalyzerError as e:
        raise UsageError(e.message) from None
