"""The store on a real PostgreSQL server: migrations, idempotent import, the dashboard's read-back,
export and deletion — the same code that runs on SQLite.

The module starts a private PostgreSQL cluster (``initdb`` + ``pg_ctl``, trust authentication,
127.0.0.1 and a free port, a temporary folder) and removes it afterwards.  ``.ci/run`` installs
Debian's ``postgresql`` package; without its server binaries the module is skipped with that
reason.  As root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

import analyzer._version
from analyzer.recovery import Treatment
from analyzer.service.access import Actor
from analyzer.service.export import export_observations
from analyzer.service.imports import import_photos
from analyzer.store import open_store
from analyzer.store.models import Analysis, Base, Observation, Photo
from analyzer.store.records import delete_patient, set_consent

OP = Actor.operator()

ROOT = Path(__file__).parents[1]
PHOTOS = sorted((ROOT / "sample_images" / "normal").glob("*.jpg"))[:4]
TREATED = Treatment(datetime.fromisoformat("2026-11-03T09:00:00+01:00"), needle_depth_mm=1.0)


def _server_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    bindir = _server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server not installed (.ci/run installs Debian's postgresql)")
    pytest.importorskip("psycopg", reason="psycopg not installed (requirements.txt has it)")
    # Not under pytest's own temporary folder: that one is private to this user (0700), and the
    # server runs as another user when we are root.
    root = Path(tempfile.mkdtemp(prefix="analyzer-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(root, 0o777)
    data, port = root / "data", _free_port()

    def run(*cmd: str) -> None:
        r = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "analyzer")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/analyzer"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


def count(store, model, *where) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_migrated_schema_matches_the_orm(pg_url, tmp_path):
    with open_store(pg_url, data_dir=tmp_path) as store, store.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_the_audit_log_is_append_only_on_postgresql(pg_url, tmp_path):
    from sqlalchemy.exc import DBAPIError

    from analyzer.service.access import Actor
    from analyzer.service.audit import events, record

    with open_store(pg_url, data_dir=tmp_path) as store:
        record(store, Actor.operator(), "patient.create", patient="PG-AUDIT")
        for sql in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event",
                    "TRUNCATE audit_event"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
                conn.exec_driver_sql(sql)
        assert [r.patient for r in events(store, Actor.operator(), patient="PG-AUDIT")] == ["PG-AUDIT"]


def test_import_export_course_and_delete_on_postgresql(pg_url, tmp_path, az, monkeypatch):
    from analyzer.ui.services.patient import course_view

    with open_store(pg_url, data_dir=tmp_path) as store:
        set_consent(store, "PG1", "care")
        first = import_photos(store, PHOTOS, patient="PG1", actor=OP, display_name="Ann Example", analyzer=az)
        again = import_photos(store, PHOTOS, patient="PG1", actor=OP, analyzer=az)
        assert (len(first.imported), len(again.unchanged)) == (4, 4)
        monkeypatch.setattr(analyzer._version, "__version__", "99.0.0")
        newer = import_photos(store, PHOTOS, patient="PG1", actor=OP, analyzer=az)
        monkeypatch.undo()
        assert len(newer.reanalysed) == 4 and count(store, Photo) == 4 and count(store, Analysis) == 8

        from analyzer.store.records import add_treatment

        add_treatment(store, "PG1", TREATED)
        set_consent(store, "PG1", "research")
        view = course_view(store, "PG1", actor=OP)
        assert len(view.points) == 4 and view.points["excess"].iloc[1] > 3  # day 0.1: clearly red

        out = tmp_path / "x.parquet"
        export_observations(store, out, actor=OP, fmt="parquet", log=lambda m: None)
        table = pd.read_parquet(out)
        assert table["patient"].nunique() == 1 and "PG1" not in set(table["patient"])  # a keyed pseudonym
        assert "name" not in table.columns
        assert b"Ann Example" not in out.read_bytes()

        n_obs = count(store, Observation)
        assert n_obs > 0
        gone = delete_patient(store, "PG1")
        assert gone.photos == 4 and count(store, Photo) == 0 and count(store, Observation) == 0
        assert not any((tmp_path / "photos").iterdir())


def test_backup_and_restore_round_trip_on_postgresql(pg_url, tmp_path, az):
    """Every row of every table and every photo back, byte for byte, in a second database
    (``pg_dump -Fc`` / ``pg_restore``); the restore refuses the now non-empty target without force."""
    from sqlalchemy import MetaData, create_engine
    from sqlalchemy.engine import make_url

    from analyzer.service.backup import BackupError, backup, restore
    from analyzer.service.consent import give_consent
    from analyzer.service.patients import create_patient
    from analyzer.service.users import add_user, assign

    def dump(url: str) -> dict[str, list[tuple]]:
        engine = create_engine(url)
        try:
            meta = MetaData()
            meta.reflect(engine)
            with engine.connect() as conn:
                return {name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                        for name, t in sorted(meta.tables.items())}
        finally:
            engine.dispose()

    def photos(folder: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((folder / "photos").glob("*"))}

    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    with open_store(pg_url, data_dir=src_dir) as store:
        create_patient(store, "PGBK1", "Bea Example", actor=OP)
        give_consent(store, "PGBK1", "care", actor=OP)
        add_user(store, "pgbk-dr", "practitioner", actor=OP, password="a long enough password 3")
        assign(store, "pgbk-dr", "PGBK1", actor=OP)
        assert len(import_photos(store, PHOTOS[:2], "PGBK1", actor=OP, analyzer=az).imported) == 2
        rows = dump(pg_url)  # the snapshot comes before the backup's own audit line
        summary = backup(store, tmp_path / "snap", actor=OP)
    assert (summary.backend, summary.photos, summary.missing, summary.schema_revision) == (
        "postgresql", 2, (), "0003_accounts")
    assert (tmp_path / "snap" / "database.pgdump").read_bytes()[:5] == b"PGDMP"

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE analyzer_restored")
    admin.dispose()
    target = make_url(pg_url).set(database="analyzer_restored").render_as_string(hide_password=False)

    got = restore(target, tmp_path / "snap", actor=OP, data_dir=dst_dir)
    assert (got.photos, got.schema_revision, got.migrated_to, got.replaced) == (
        2, "0003_accounts", "0003_accounts", False)
    back = dump(target)
    restored_audit = back.pop("audit_event")
    assert restored_audit[:-1] == rows.pop("audit_event")
    assert restored_audit[-1][4] == "store.restore"
    assert back == rows
    assert all(back[t] for t in ("patient", "app_user", "assignment", "photo", "observation"))
    assert photos(dst_dir) == photos(src_dir) and len(photos(dst_dir)) == 2

    with pytest.raises(BackupError, match=r"already holds \d+ patient\(s\) and \d+ user account\(s\)"):
        restore(target, tmp_path / "snap", actor=OP, data_dir=dst_dir)
    again = restore(target, tmp_path / "snap", actor=OP, data_dir=dst_dir, force=True)
    assert again.replaced
    back = dump(target)
    assert back.pop("audit_event")[:-1] == restored_audit[:-1] and back == rows
