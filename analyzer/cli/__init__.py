"""The command line: ``skin-analyzer`` (or ``python -m analyzer``) with ``analyze``, ``series``,
``fetch-model``, ``import``, ``export``, ``delete``, ``batch``, ``users``, ``backup``, ``restore``
and ``dashboard``.

``analyze PHOTO... [--json] [--overlay DIR]`` is a public contract (see README): with ``--json``
one object per input, one per line, in input order; exit 0 when every input was analysed, 1 when
any failed (the others are still analysed and printed), 2 for usage errors.

``series PATH... --treated-at ISO8601 [--needle-depth MM] [--symptoms FILE.csv] [--json]`` is
the recovery course (docs/recovery.md): with ``--json`` one object; exit 0 with or without
flags, 1 when no photo could be analysed, 2 for usage errors.

``import``, ``export`` and ``delete`` work on the store (docs/store.md); ``batch`` imports in
parallel on Dask distributed (docs/batch.md).

This package parses arguments and prints, nothing more: one module per command group
(:mod:`.analyze`: ``analyze`` and ``fetch-model``; :mod:`.series`; :mod:`.store`: ``import``,
``export``, ``delete``; :mod:`.batch`; :mod:`.users`; :mod:`.backup`: ``backup``, ``restore``;
:mod:`.dashboard`, which starts :mod:`analyzer.ui.server`), each calling the use cases of
:mod:`analyzer.service` and the library.  A command's module is imported only when that command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence, TextIO

from .._version import __version__
from ..service.sources import photo_endings
from ..settings import DASHBOARD_ADDRESS, DASHBOARD_PORT
from ..vocab import CONSENT_SCOPES, ROLES

__all__ = ["main"]


def _photos_of_a_patient(p: argparse.ArgumentParser) -> None:
    """The arguments ``import`` and ``batch`` share: photos, the patient, a treatment."""
    p.add_argument("paths", nargs="+", metavar="PHOTO_OR_FOLDER", help="photos, or folders of photos")
    p.add_argument("--patient", required=True, metavar="ID", help="the patient's pseudonym, e.g. P0012")
    p.add_argument("--name", metavar="NAME", help="the patient's display name (never exported de-identified)")
    p.add_argument("--treated-at", metavar="ISO8601", help="record a treatment at this time")
    p.add_argument("--needle-depth", type=float, metavar="MM", help="needle depth of that treatment, mm (default 1.0)")
    p.add_argument("--consent", action="append", default=[], choices=CONSENT_SCOPES,
                   help="record that the patient gave this consent today, before anything is stored "
                        "(repeatable; photos are stored and analysed only with care consent)")


def _port(text: str) -> int:
    """A TCP port number, for argparse."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _prog() -> str:
    """How the user called us: ``skin-analyzer`` (the installed command) or ``python -m analyzer``."""
    return "skin-analyzer" if os.path.basename(sys.argv[0] or "") == "skin-analyzer" else "python -m analyzer"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=_prog(),
        description="Measure redness, pigment and texture of facial skin in photos.",
    )
    p.add_argument("--version", action="version", version=f"analyzer {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("analyze", help="analyse photos and print their measurements")
    a.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files (JPEG, PNG, WebP, TIFF, HEIC)")
    a.add_argument("--json", action="store_true", help="one JSON object per photo, one per line")
    a.add_argument("--overlay", metavar="DIR", help="write one overlay PNG per photo into DIR")

    s = sub.add_parser("series", help="follow the recovery after a treatment over a series of photos")
    s.add_argument("paths", nargs="+", metavar="PATH", help=f"photos, or folders of photos ({photo_endings()})")
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
    f.add_argument("--from", dest="from_file", metavar="FILE",
                   help="install a copied model file (checked against its SHA-256) instead of downloading")

    db_help = "database URL or SQLite file (default: $ANALYZER_DB_URL, else data/analyzer.db)"
    i = sub.add_parser("import", help="store and analyse photos of a patient (idempotent)")
    _photos_of_a_patient(i)
    i.add_argument("--protocol", default="default", metavar="NAME", help="protocol of that treatment (default: default)")
    i.add_argument("--symptoms", metavar="FILE.csv", help="add a symptom diary: when,symptom,level")
    i.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    e = sub.add_parser("export", help="export the stored observations in long form")
    e.add_argument("--format", required=True, choices=("csv", "parquet", "json"))
    e.add_argument("--out", required=True, metavar="PATH", help="output file; the schema goes to PATH.schema.json")
    e.add_argument("--patient", metavar="ID", help="only this patient")
    e.add_argument("--identified", action="store_true",
                   help="add names and dates (admin only; patients with care consent)")
    e.add_argument("--study", metavar="NAME", default="default",
                   help="the study whose keyed pseudonyms the de-identified export uses (default: default)")
    e.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    d = sub.add_parser("delete", help="delete a patient or a photo: rows and stored files")
    who = d.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient", metavar="ID", help="delete this patient and everything about them")
    who.add_argument("--photo", metavar="SHA256", help="delete this photo (SHA-256 of the original file)")
    d.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    b = sub.add_parser("batch", help="import many photos, analysed in parallel on Dask (docs/batch.md)")
    _photos_of_a_patient(b)
    b.add_argument("--workers", type=int, default=2, metavar="N",
                   help="worker processes of the local cluster (default 2; ignored with --scheduler)")
    b.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://HOST:8786")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    b.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    bk = sub.add_parser("backup", help="write a consistent snapshot of the store and its photos (docs/store.md)")
    bk.add_argument("out", metavar="OUT", help="a new folder for the snapshot (must not exist)")
    bk.add_argument("--db", metavar="URL_OR_FILE", help=db_help)
    rs = sub.add_parser("restore", help="restore a snapshot made by backup, after checking every checksum")
    rs.add_argument("snapshot", metavar="IN", help="the snapshot folder")
    rs.add_argument("--force", action="store_true", help="replace a store that already holds data")
    rs.add_argument("--db", metavar="URL_OR_FILE", help=db_help)

    ds = sub.add_parser("dashboard", help="serve the dashboard (Streamlit) from the installed package (docs/deploy.md)")
    ds.add_argument("--address", default=DASHBOARD_ADDRESS, metavar="A",
                    help=f"address to listen on (default {DASHBOARD_ADDRESS}: this machine only; a clinic "
                         "puts a TLS reverse proxy in front, docs/deploy.md)")
    ds.add_argument("--port", type=_port, default=DASHBOARD_PORT, metavar="N",
                    help=f"port to listen on (default {DASHBOARD_PORT})")
    ds.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                    help="a host name the dashboard answers to besides localhost, e.g. the clinic's own "
                         "name behind its proxy (repeatable)")
    ds.add_argument("--secrets", metavar="FILE", help="secrets.toml with the clinic's [auth] section (sign-in "
                                                     "through its identity provider)")
    ds.add_argument("--db", metavar="URL_OR_FILE", help=db_help)
    u = sub.add_parser("users", help="accounts: add, assign, list, disable, invite (docs/security.md)")
    us = u.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    ua = us.add_parser("add", help="add an account")
    ua.add_argument("login", metavar="LOGIN")
    ua.add_argument("--role", required=True, choices=ROLES)
    ua.add_argument("--patient", metavar="PSEUDONYM", help="the patient a patient account belongs to")
    ua.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of standard input (else one is made and printed once)")
    ua.add_argument("--oidc-subject", metavar="SUB",
                    help="signs in through the identity provider with this subject instead of a password")
    uas = us.add_parser("assign", help="put a patient in a practitioner's caseload")
    uas.add_argument("login", metavar="LOGIN")
    uas.add_argument("--patient", required=True, metavar="PSEUDONYM")
    us.add_parser("list", help="list the accounts, their roles and caseloads")
    ud = us.add_parser("disable", help="disable an account (its sessions end)")
    ud.add_argument("login", metavar="LOGIN")
    ui_ = us.add_parser("invite", help="print a one-time code with which a patient activates their account")
    ui_.add_argument("--patient", required=True, metavar="PSEUDONYM")
    for x in (ua, uas, ud, ui_, us.choices["list"]):
        x.add_argument("--db", metavar="URL_OR_FILE", help=db_help)
    return p


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = stdout or sys.stdout
    args = _parser().parse_args(argv)  # exits 2 on usage errors
    if args.command == "series":
        from .series import run_series

        return run_series(args, out)
    if args.command in ("import", "export", "delete"):
        from .store import run_store_command

        return run_store_command(args, out)
    if args.command in ("backup", "restore"):
        from .backup import run_backup_command

        return run_backup_command(args, out)
    if args.command == "users":
        from .users import run_users_command

        return run_users_command(args, out)
    if args.command == "dashboard":
        from .dashboard import run_dashboard_command

        return run_dashboard_command(args, out)
    if args.command == "batch":
        from .batch import run_batch_command

        return run_batch_command(args, out)
    from .analyze import run_analyze, run_fetch_model

    if args.command == "fetch-model":
        return run_fetch_model(args.dest, out, from_file=args.from_file)
    return run_analyze(args.photos, as_json=args.json, overlay_dir=args.overlay, out=out)
