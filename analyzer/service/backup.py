"""Backup and restore of the whole store: the database and the stored photos (docs/store.md).

:func:`backup` writes a consistent snapshot while the dashboard keeps running:

1. the database first: SQLite through its online backup API (one read transaction, so rows
   written meanwhile are either all in it or not at all), PostgreSQL through ``pg_dump -Fc``
   run on a snapshot exported by a REPEATABLE READ transaction (``pg_export_snapshot``);
2. then the stored photos the snapshot's ``photo`` rows name (``stored_path``), and nothing
   else: a photo imported after step 1 has no row in the snapshot and its file is not needed.
   A file named by a row but missing on disk (the store already lacks it) is not an error: it
   is listed in :attr:`BackupSummary.missing` and in the manifest, and the backup goes on;
3. last ``manifest.json`` (format version, UTC time, analyzer version, backend, the Alembic
   schema revision read from the database, every file with its size and SHA-256), fsync'd.

Everything is written into ``OUT.partial-<random>`` beside OUT and renamed to OUT only when
complete; on any error the partial folder is removed, so a folder named OUT is always a
complete snapshot.  The snapshot holds health data: its folder is 0700, its files 0600.

:func:`restore` checks the manifest and every file's size and SHA-256 before it writes
anything; refuses a snapshot whose schema revision is not one of this analyzer's migrations
(made by a newer analyzer), one from the other backend, and a target store that holds any
patient or user unless ``force=True``; then writes the photos and the database (SQLite: a
temporary copy moved into place with ``os.replace``; PostgreSQL: ``pg_restore --clean
--if-exists --no-owner --single-transaction``) and opens the store, which runs the migrations
up to this analyzer's newest when the snapshot is older.  Stop the dashboard while restoring.

The checksums find a damaged, truncated or partly changed snapshot; they are no signature: who
can write the snapshot can rewrite its manifest too.  Keep snapshots where only the operators
can write.

Both take the acting user and check ``store.backup`` (admins; the command line is the
operator).  A backup is audited in the store it copies (``store.backup``), a restore in the
restored store (``store.restore``); a refused restore in the target when it is a store already.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from glob import glob
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from .. import _version
from .._files import copy_hashed, sha256_file
from ..errors import AnalyzerError
from ..store.db import ENV_DATA_DIR, Store, alembic_config, open_store, resolve_url
from .access import Actor, PermissionDenied, check, may
from .audit import record

__all__ = [
    "DB_FILES",
    "ENV_PG_BIN",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "BackupError",
    "BackupSummary",
    "RestoreSummary",
    "backup",
    "known_revisions",
    "read_manifest",
    "restore",
    "verify_snapshot",
]

FORMAT = "skin-analyzer-backup"
FORMAT_VERSION = 1
"""The manifest's ``format`` and ``format_version``; a restore refuses any other."""

MANIFEST = "manifest.json"
DB_FILES: Mapping[str, str] = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
"""The database's file in a snapshot, by backend."""

ENV_PG_BIN = "ANALYZER_PG_BIN"
"""Environment variable: a folder holding ``pg_dump`` and ``pg_restore`` (else ``PATH``, else
the newest ``/usr/lib/postgresql/*/bin``)."""

PG_TIMEOUT_S = 3600


class BackupError(AnalyzerError):
    """A snapshot cannot be written, or a snapshot cannot be restored."""


@dataclass(frozen=True)
class BackupSummary:
    """What :func:`backup` wrote.

    Attributes
    ----------
    path : Path
        The snapshot folder.
    files : int
        Files in the snapshot (database and photos; the manifest not counted).
    bytes : int
        Their total size, bytes.
    photos : int
        Stored photos copied.
    schema_revision : str
        The Alembic revision of the copied database.
    backend : str
        ``sqlite`` or ``postgresql``.
    missing : tuple of str
        Stored paths named by photo rows whose files were missing on disk (not in the snapshot).
    """

    path: Path
    files: int
    bytes: int
    photos: int
    schema_revision: str
    backend: str
    missing: tuple[str, ...] = ()

    def format(self) -> str:
        """One line for the command line."""
        return (f"backup: {self.files} files ({self.bytes} bytes, {self.photos} photos), "
                f"schema revision {self.schema_revision}, written to {self.path}\n")


@dataclass(frozen=True)
class RestoreSummary:
    """What :func:`restore` restored.

    Attributes
    ----------
    target : str
        The store restored into (password hidden).
    files : int
        Files restored (database and photos).
    bytes : int
        Their total size, bytes.
    photos : int
    schema_revision : str
        The snapshot's revision.
    migrated_to : str
        The store's revision after opening it (this analyzer's newest).
    replaced : bool
        True when a store holding data was replaced (``force``).
    """

    target: str
    files: int
    bytes: int
    photos: int
    schema_revision: str
    migrated_to: str
    replaced: bool

    def format(self) -> str:
        """One line for the command line."""
        upgraded = f", upgraded to {self.migrated_to}" if self.migrated_to != self.schema_revision else ""
        return (f"restore: {self.files} files ({self.bytes} bytes, {self.photos} photos), "
                f"schema revision {self.schema_revision}{upgraded}, into {self.target}\n")


# --- shared helpers ------------------------------------------------------------------------------


def known_revisions() -> frozenset[str]:
    """The Alembic revisions of this analyzer's migrations."""
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions())


def _current_revision(conn) -> str:
    from alembic.migration import MigrationContext

    rev = MigrationContext.configure(conn).get_current_revision()
    return rev or ""


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pg_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``."""
    folder = os.environ.get(ENV_PG_BIN)
    if folder:
        exe = Path(folder) / name
        if exe.is_file() and os.access(exe, os.X_OK):
            return str(exe)
        raise BackupError(str(exe), f"{name} is not there ({ENV_PG_BIN}={folder})",
                          f"set {ENV_PG_BIN} to the folder holding PostgreSQL's {name}")
    on_path = shutil.which(name)
    if on_path:
        return on_path
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in re.findall(r"\d+|\D+", p)])
    if found:
        return found[-1]
    raise BackupError(name, "PostgreSQL's client tool was not found (not on PATH, nor in "
                      "/usr/lib/postgresql)",
                      f"install the PostgreSQL client (Debian: postgresql-client), or set {ENV_PG_BIN} "
                      "to the folder holding it")


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq URI for ``url`` (no password) and the environment passing the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    bare = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                      database=url.database, query=url.query)  # (URL.set ignores password=None)
    uri = bare.render_as_string(hide_password=False)
    return uri, env


def _run_pg(cmd: list[str], env: dict[str, str], what: str, fix: str) -> None:
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S, check=False)
    except OSError as e:
        raise BackupError(cmd[0], f"cannot run it ({e.strerror or e})", fix) from e
    except subprocess.TimeoutExpired as e:
        raise BackupError(cmd[0], f"{what} took longer than {PG_TIMEOUT_S} s", fix) from e
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise BackupError(Path(cmd[0]).name, f"{what} failed ({last})", fix)


# --- backup --------------------------------------------------------------------------------------


def _snapshot_sqlite(store: Store, dest: Path) -> tuple[str, list[str]]:
    """Copy the SQLite database into ``dest`` with the online backup API; returns the schema
    revision and the stored paths, both read from the copy (so they match it)."""
    src_file = make_url(store.engine.url).database
    src = sqlite3.connect(f"file:{src_file}?mode=ro", uri=True, timeout=10)
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        with closing(sqlite3.connect(dest)) as dst:
            src.backup(dst)  # all pages in one step: one read transaction, a consistent copy
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        src.close()
    with open(dest, "rb+") as f:
        os.fsync(f.fileno())
    engine = create_engine(f"sqlite:///{dest}")
    try:
        with engine.connect() as conn:
            rev = _current_revision(conn)
            paths = list(conn.scalars(text("SELECT DISTINCT stored_path FROM photo ORDER BY stored_path")))
    finally:
        engine.dispose()
    return rev, paths


def _snapshot_postgres(store: Store, dest: Path) -> tuple[str, list[str]]:
    """``pg_dump -Fc`` into ``dest`` on a snapshot exported by a REPEATABLE READ transaction,
    from which the revision and the stored paths are read too."""
    tool = _pg_tool("pg_dump")
    uri, env = _libpq(store.engine.url)
    with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            snap = conn.scalar(text("SELECT pg_export_snapshot()"))
            rev = _current_revision(conn)
            paths = list(conn.scalars(text("SELECT DISTINCT stored_path FROM photo ORDER BY stored_path")))
            _run_pg([tool, "-Fc", "--no-owner", f"--snapshot={snap}", "-f", str(dest), "-d", uri], env,
                    "pg_dump", "check that pg_dump is not older than the server and can reach the database")
    os.chmod(dest, 0o600)
    with open(dest, "rb+") as f:
        os.fsync(f.fileno())
    return rev, paths


def _safe_relative(rel: str) -> PurePosixPath | None:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts or "\\" in rel:
        return None
    return p


def backup(store: Store, out: str | os.PathLike, *, actor: Actor) -> BackupSummary:
    """Write a consistent snapshot of ``store`` (database and stored photos) into the new folder
    ``out``.

    Parameters
    ----------
    store : Store
        The open store; it may be in use (the dashboard, an import) meanwhile.
    out : str or PathLike
        A folder that must not exist yet; its parent must exist and be writable.
    actor : Actor
        Must have ``store.backup`` (admins; the command line).

    Returns
    -------
    BackupSummary

    Raises
    ------
    PermissionDenied
        For anyone but an admin (audited).
    BackupError
        When ``out`` exists, its folder cannot be written (full or read-only disk), or the
        database cannot be copied; no folder named ``out`` is left behind then.
    """
    check(store, actor, "store.backup")
    out = Path(out).absolute()
    if out.exists() or out.is_symlink():
        raise BackupError(str(out), "already exists", "give a new folder name for the snapshot")
    parent = out.parent
    if not parent.is_dir():
        raise BackupError(str(parent), "is not a folder",
                          "create it first or choose another place for the snapshot")
    backend = store.engine.dialect.name
    if backend not in DB_FILES:
        raise BackupError(store.url, f"the {backend} backend cannot be backed up",
                          "use SQLite or PostgreSQL")
    try:
        partial = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=parent))
    except OSError as e:
        raise BackupError(str(parent), f"cannot create the snapshot folder here ({e.strerror or e})",
                          "choose a folder you can write to, with free space") from e
    try:
        summary = _write_snapshot(store, partial, out, backend)
    except BaseException as e:
        shutil.rmtree(partial, ignore_errors=True)
        try:
            record(store, actor, "store.backup", outcome="failed",
                   detail={"reason": type(e).__name__})
        except Exception:  # noqa: BLE001 - the store may be what failed; the error below says why
            pass
        if isinstance(e, (OSError, sqlite3.Error)):
            cause = getattr(e, "strerror", None) or str(e)
            raise BackupError(str(parent), f"cannot write the snapshot ({cause})",
                              "free space there or choose a folder you can write to; "
                              "nothing was left behind") from e
        raise
    record(store, actor, "store.backup",
           detail={"files": summary.files, "bytes": summary.bytes, "photos": summary.photos,
                   "missing": len(summary.missing), "schema_revision": summary.schema_revision})
    return summary


def _write_snapshot(store: Store, partial: Path, out: Path, backend: str) -> BackupSummary:
    db_name = DB_FILES[backend]
    db_path = partial / db_name
    if backend == "sqlite":
        rev, paths = _snapshot_sqlite(store, db_path)
    else:
        rev, paths = _snapshot_postgres(store, db_path)
    size, digest = sha256_file(db_path)
    files = [{"path": db_name, "size": size, "sha256": digest}]
    missing: list[str] = []
    for rel in paths:
        safe = _safe_relative(rel)
        src = store.data_dir / rel if safe is not None else None
        if src is None or not src.is_file():
            missing.append(rel)
            continue
        dest = partial / safe
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            size, digest = copy_hashed(src, dest)
        except FileNotFoundError:  # deleted after the database was copied
            dest.unlink(missing_ok=True)
            missing.append(rel)
            continue
        files.append({"path": safe.as_posix(), "size": size, "sha256": digest})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "analyzer_version": _version.__version__,
        "backend": backend,
        "schema_revision": rev,
        "database": db_name,
        "files": files,
        "missing_photos": missing,
    }
    for folder in {partial / PurePosixPath(f["path"]).parent for f in files}:
        _fsync_dir(folder)
    fd = os.open(partial / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(partial)
    if out.exists():
        raise BackupError(str(out), "already exists (made while the backup ran)", "give a new folder name")
    os.rename(partial, out)
    _fsync_dir(out.parent)
    return BackupSummary(path=out, files=len(files), bytes=sum(f["size"] for f in files),
                         photos=len(files) - 1, schema_revision=rev, backend=backend, missing=tuple(missing))


# --- restore -------------------------------------------------------------------------------------


def read_manifest(snapshot: str | os.PathLike) -> dict[str, Any]:
    """The snapshot's manifest, its shape checked (not the files; see :func:`verify_snapshot`)."""
    snap = Path(snapshot)
    mpath = snap / MANIFEST
    if not snap.is_dir():
        raise BackupError(str(snap), "is not a folder", "give the folder written by `skin-analyzer backup`")
    if not mpath.is_file():
        raise BackupError(str(mpath), "is missing, so this is not a complete snapshot",
                          "give a folder written by `skin-analyzer backup` "
                          "(a *.partial-* folder is unfinished)")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BackupError(str(mpath), f"cannot be read ({type(e).__name__})",
                          "the snapshot is damaged; use another copy") from e
    ok = (isinstance(m, dict) and m.get("format") == FORMAT and isinstance(m.get("files"), list)
          and m.get("backend") in DB_FILES and isinstance(m.get("schema_revision"), str)
          and m.get("database") == DB_FILES.get(m.get("backend")))
    if not ok:
        raise BackupError(str(mpath), "is not a skin-analyzer backup manifest",
                          "give a folder written by `skin-analyzer backup`")
    if m.get("format_version") != FORMAT_VERSION:
        raise BackupError(str(mpath), f"has format version {m.get('format_version')!r}, this analyzer reads "
                          f"{FORMAT_VERSION}", "restore it with the analyzer version that wrote it "
                          f"({m.get('analyzer_version', 'unknown')}) or a newer one")
    for f in m["files"]:
        if not (isinstance(f, dict) and isinstance(f.get("path"), str)
                and _safe_relative(f["path"]) is not None and isinstance(f.get("size"), int)
                and isinstance(f.get("sha256"), str)):
            raise BackupError(str(mpath), f"lists a file it cannot name safely ({str(f)[:80]})",
                              "the snapshot is damaged or was changed; use another copy")
    if m["database"] not in {f["path"] for f in m["files"]}:
        raise BackupError(str(mpath), f"does not list the database file {m['database']}",
                          "the snapshot is damaged or was changed; use another copy")
    return m


def verify_snapshot(snapshot: str | os.PathLike) -> dict[str, Any]:
    """Check the manifest and every file's size and SHA-256; returns the manifest.

    Raises
    ------
    BackupError
        Naming the first file that is missing, of the wrong size (truncated) or whose
        checksum differs (damaged or changed).
    """
    m = read_manifest(snapshot)
    snap = Path(snapshot)
    for f in m["files"]:
        path = snap / PurePosixPath(f["path"])
        if not path.is_file():
            raise BackupError(str(path), "is listed in the manifest but missing",
                              "the snapshot is incomplete; nothing was restored; use another copy")
        size, digest = sha256_file(path)
        if size != f["size"]:
            raise BackupError(str(path),
                              f"is {size} bytes, the manifest says {f['size']} (truncated or changed)",
                              "nothing was restored; use another copy of the snapshot")
        if digest != f["sha256"]:
            raise BackupError(str(path), "does not match its SHA-256 in the manifest (damaged or changed)",
                              "nothing was restored; use another copy of the snapshot")
    return m


def _holdings_sqlite(db_file: Path) -> tuple[int, int]:
    if not db_file.exists() or db_file.stat().st_size == 0:
        return 0, 0
    with closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=10)) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        n = [c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] if t in tables else 0  # noqa: S608
             for t in ("patient", "app_user")]
    return n[0], n[1]


def _holdings_sql(url: URL) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            return tuple(conn.scalar(text(f"SELECT count(*) FROM {t}")) if t in tables else 0  # noqa: S608
                         for t in ("patient", "app_user"))
    finally:
        engine.dispose()


def _refuse(target: str, data_dir: Path, actor: Actor, holds_store: bool) -> None:
    """Refuse a restore by anyone but an admin; audited in the target when it is a store."""
    if holds_store:
        with open_store(target, data_dir=data_dir) as store:
            check(store, actor, "store.backup")
    raise PermissionDenied("store.backup", "your account may not do this",
                           "sign in with an account that may, or ask the clinic's admin")


def _place_file(src: Path, dest: Path, size: int, digest: str) -> None:
    """Copy ``src`` beside ``dest``, check it again, fsync and ``os.replace`` it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        got = copy_hashed(src, Path(tmp))
        if got != (size, digest):
            raise BackupError(str(src), "changed while it was being restored", "restore again from a copy "
                              "nobody is writing to")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def restore(store_url_or_path: str | os.PathLike | None, snapshot: str | os.PathLike, *, actor: Actor,
            force: bool = False, data_dir: str | os.PathLike | None = None) -> RestoreSummary:
    """Restore ``snapshot`` (a folder written by :func:`backup`) into a store.

    Parameters
    ----------
    store_url_or_path : str, PathLike or None
        The target: an SQLAlchemy URL or an SQLite file (None: ``$ANALYZER_DB_URL``, else
        ``data/analyzer.db``), of the snapshot's backend.
    snapshot : str or PathLike
    actor : Actor
        Must have ``store.backup`` (the command line does; in an empty store nobody else
        exists to act).
    force : bool
        Replace a target that holds any patient or user.
    data_dir : str or PathLike, optional
        Where the photos go; as :func:`analyzer.store.open_store` (an SQLite file's folder, else
        ``$ANALYZER_DATA_DIR`` or ``data``).

    Returns
    -------
    RestoreSummary

    Raises
    ------
    BackupError
        Before anything is written: a missing or foreign manifest, a missing, truncated or
        changed file, a snapshot from a newer schema or the other backend, a target holding
        data without ``force``.
    PermissionDenied
        For anyone but an admin.
    """
    target = resolve_url(store_url_or_path)
    url = make_url(target)
    shown = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    is_sqlite = backend == "sqlite"
    in_file = is_sqlite and url.database not in (None, "", ":memory:")
    db_file = Path(url.database).resolve() if in_file else None
    if is_sqlite and db_file is None:
        raise BackupError(shown, "an in-memory database cannot be restored into",
                          "give an SQLite file or a URL")
    if data_dir is None:
        data_dir = db_file.parent if db_file is not None else Path(os.environ.get(ENV_DATA_DIR) or "data")
    data_dir = Path(data_dir).resolve()

    try:
        patients, users = _holdings_sqlite(db_file) if is_sqlite else _holdings_sql(url)
    except Exception as e:  # noqa: BLE001 - any failure to look is one message
        raise BackupError(shown, f"cannot read the target store ({type(e).__name__})",
                          "check the database URL and that the database is reachable") from e
    if not may(None, actor, "store.backup"):  # type: ignore[arg-type]  # not a per-patient action
        _refuse(target, data_dir, actor, holds_store=bool(patients or users))

    snap = Path(snapshot)
    m = verify_snapshot(snap)
    rev = m["schema_revision"]
    if rev not in known_revisions():
        raise BackupError(str(snap), f"made by a newer analyzer (schema revision {rev!r}, "
                          f"{m.get('analyzer_version', 'unknown version')})", "upgrade the analyzer first")
    if m["backend"] != backend:
        raise BackupError(str(snap), f"is a {m['backend']} snapshot and {shown} is a {backend} store",
                          f"restore it into a {m['backend']} store")
    if (patients or users) and not force:
        raise BackupError(shown, f"already holds {patients} patient(s) and {users} user account(s)",
                          "restore into an empty store, or add --force to replace it")

    photos = [f for f in m["files"] if f["path"] != m["database"]]
    try:
        (data_dir / "photos").mkdir(parents=True, exist_ok=True, mode=0o700)
        for f in photos:
            rel = PurePosixPath(f["path"])
            _place_file(snap / rel, data_dir / rel, f["size"], f["sha256"])
        db = next(f for f in m["files"] if f["path"] == m["database"])
        if is_sqlite:
            _restore_sqlite(snap / db["path"], db_file, db["size"], db["sha256"])
        else:
            _restore_postgres(snap / db["path"], url)
    except OSError as e:
        raise BackupError(str(data_dir), f"cannot write the restored store ({e.strerror or e})",
                          "free space there or check its permissions, then restore again") from e

    with open_store(target, data_dir=data_dir) as store:
        with store.engine.connect() as conn:
            head = _current_revision(conn)
        record(store, actor, "store.restore",
               detail={"files": len(m["files"]), "schema_revision": rev, "replaced": bool(patients or users)})
    return RestoreSummary(target=shown, files=len(m["files"]), bytes=sum(f["size"] for f in m["files"]),
                          photos=len(photos), schema_revision=rev, migrated_to=head,
                          replaced=bool(patients or users))


def _restore_sqlite(src: Path, db_file: Path, size: int, digest: str) -> None:
    """Move a checked copy of the snapshot's database into place; the old file's -wal and -shm
    (checkpointed first) are removed so they are never applied to the new file."""
    db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if db_file.exists() and db_file.stat().st_size > 0:
        with closing(sqlite3.connect(db_file, timeout=10)) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _place_file(src, db_file, size, digest)
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    _fsync_dir(db_file.parent)


def _restore_postgres(src: Path, url: URL) -> None:
    tool = _pg_tool("pg_restore")
    uri, env = _libpq(url)
    _run_pg([tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
             "-d", uri, str(src)], env, "pg_restore",
            "check that pg_restore is not older than the one that made the dump and can reach the database; "
            "the target was left as it was")
