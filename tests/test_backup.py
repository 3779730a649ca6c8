"""Backup and restore of the store (analyzer.service.backup, ``python -m analyzer backup|restore``)
on SQLite; the PostgreSQL round trip is in tests/test_store_postgres.py."""

from __future__ import annotations

import errno
import io
import json
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, insert, select

from analyzer.cli import main
from analyzer.service import backup as backup_module
from analyzer.service.access import Actor, PermissionDenied
from analyzer.service.audit import record
from analyzer.service.backup import MANIFEST, BackupError, backup, restore, verify_snapshot
from analyzer.service.consent import give_consent
from analyzer.service.imports import import_photos
from analyzer.service.patients import create_patient
from analyzer.service.users import add_user, assign
from analyzer.store import open_store
from analyzer.store.models import AuditEvent, Patient
from analyzer.store.records import now

OP = Actor.operator()
PHOTOS = sorted((Path(__file__).parents[1] / "sample_images" / "normal").glob("*.jpg"))[:2]


def dump(db_file: Path) -> dict[str, list[tuple]]:
    """Every row of every table (alembic_version included), in primary-key order."""
    engine = create_engine(f"sqlite:///{db_file}")
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {name: [tuple(r) for r in conn.execute(
                        select(t).order_by(*(t.primary_key.columns or t.columns)))]
                    for name, t in sorted(meta.tables.items())}
    finally:
        engine.dispose()


def photo_bytes(data_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(data_dir).as_posix(): p.read_bytes()
            for p in sorted((data_dir / "photos").glob("*"))}


def fill(store, az=None) -> None:
    """Patients, users, a caseload, consents, audit rows and (with ``az``) two photos."""
    create_patient(store, "BK1", "Ann Example", actor=OP)
    create_patient(store, "BK2", actor=OP)
    give_consent(store, "BK1", "care", actor=OP)
    add_user(store, "drbk", "practitioner", actor=OP, password="a long enough password 1")
    add_user(store, "patbk", "patient", actor=OP, patient="BK2", password="a long enough password 2")
    assign(store, "drbk", "BK1", actor=OP)
    if az is not None:
        summary = import_photos(store, PHOTOS, "BK1", actor=OP, analyzer=az)
        assert len(summary.imported) == len(PHOTOS)


@pytest.fixture(scope="module")
def source(tmp_path_factory, az):
    """A store with data and two photos, its table dump and photos as they were before any backup."""
    db = tmp_path_factory.mktemp("source") / "analyzer.db"
    with open_store(db) as store:
        fill(store, az)
    return db, dump(db), photo_bytes(db.parent)


def snapshot_of(db: Path, out: Path):
    with open_store(db) as store:
        return backup(store, out, actor=OP)


def test_round_trip_gives_back_every_row_and_every_photo_byte_for_byte(source, tmp_path):
    db, _, photos = source
    rows = dump(db)  # the snapshot is taken before the backup's own audit line
    summary = snapshot_of(db, tmp_path / "snap")
    assert (summary.photos, summary.files, summary.backend, summary.missing) == (2, 3, "sqlite", ())
    assert summary.schema_revision == "0003_accounts"
    assert stat.S_IMODE((tmp_path / "snap").stat().st_mode) == 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap"]  # no partial folder left
    m = json.loads((tmp_path / "snap" / MANIFEST).read_text())
    assert (m["format"], m["format_version"], m["backend"], m["schema_revision"]) == (
        "skin-analyzer-backup", 1, "sqlite", "0003_accounts")
    assert m["created_at"].endswith("Z") and m["analyzer_version"]
    assert sorted(f["path"] for f in m["files"]) == ["database.sqlite", *sorted(photos)]
    assert summary.bytes == sum(f["size"] for f in m["files"])

    target = tmp_path / "new" / "analyzer.db"
    got = restore(target, tmp_path / "snap", actor=OP)
    assert (got.files, got.photos, got.schema_revision, got.migrated_to, got.replaced) == (
        3, 2, "0003_accounts", "0003_accounts", False)
    assert photo_bytes(target.parent) == photos
    back = dump(target)
    # the restore is audited in the restored store: one row more than the snapshot's log
    restored_audit = back.pop("audit_event")
    assert restored_audit[:-1] == rows["audit_event"]
    assert restored_audit[-1][2:6] == (OP.login, "admin", "store.restore", None)
    assert back == {k: v for k, v in rows.items() if k != "audit_event"}
    assert set(back) >= {"patient", "app_user", "assignment", "consent", "photo", "analysis", "observation",
                         "secret", "alembic_version"}
    assert all(back[t] for t in ("patient", "app_user", "assignment", "consent", "photo", "observation"))
    # the backup itself is audited in the source store
    with open_store(db) as store, store.sessions() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (last.action, last.outcome, last.detail["files"], last.detail["photos"]) == (
        "store.backup", "ok", 3, 2)


def test_a_backup_while_another_connection_writes_is_consistent(tmp_path):
    db = tmp_path / "busy" / "analyzer.db"
    with open_store(db) as store:
        create_patient(store, "SEED", actor=OP)
    stop, batches = threading.Event(), []

    def writer():
        with open_store(db) as w:
            n = 0
            while not stop.is_set():
                with w.sessions.begin() as s:  # five patients per transaction, all or none
                    for i in range(5):
                        s.execute(insert(Patient).values(pseudonym=f"W{n}-{i}", created_at=now()))
                n += 1
                batches.append(n)

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(batches) < 20:
            stop.wait(0.01)
        with open_store(db) as store:
            for k in range(3):
                backup(store, tmp_path / f"snap{k}", actor=OP)
    finally:
        stop.set()
        t.join()
    for k in range(3):
        got = [r[1] for r in dump(tmp_path / f"snap{k}" / "database.sqlite")["patient"]]
        written = len(got) - 1
        assert written >= 100 and written % 5 == 0  # whole transactions only
        assert sorted(got) == sorted(["SEED", *(f"W{n}-{i}" for n in range(written // 5) for i in range(5))])
        verify_snapshot(tmp_path / f"snap{k}")


@pytest.fixture
def snap(source, tmp_path):
    db, _, _ = source
    snapshot_of(db, tmp_path / "snap")
    return tmp_path / "snap"


def _refused(tmp_path, snap, message):
    target = tmp_path / "target" / "analyzer.db"
    with pytest.raises(BackupError) as e:
        restore(target, snap, actor=OP)
    assert e.value.message == message
    assert not (tmp_path / "target").exists()  # nothing written


def test_a_tampered_photo_is_refused_before_anything_is_written(snap, tmp_path):
    photo = next((snap / "photos").iterdir())
    data = bytearray(photo.read_bytes())
    data[1000] ^= 0xFF
    photo.write_bytes(bytes(data))
    _refused(tmp_path, snap, f"{photo}: does not match its SHA-256 in the manifest (damaged or changed). "
                             "nothing was restored; use another copy of the snapshot")


def test_a_truncated_database_is_refused(snap, tmp_path):
    db = snap / "database.sqlite"
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size - 4096)
    _refused(tmp_path, snap, f"{db}: is {size - 4096} bytes, the manifest says {size} "
                             "(truncated or changed). "
                             "nothing was restored; use another copy of the snapshot")


def test_a_missing_photo_file_in_the_snapshot_is_refused(snap, tmp_path):
    photo = next((snap / "photos").iterdir())
    photo.unlink()
    _refused(tmp_path, snap, f"{photo}: is listed in the manifest but missing. "
                             "the snapshot is incomplete; nothing was restored; use another copy")


def test_a_snapshot_without_manifest_is_refused(snap, tmp_path):
    (snap / MANIFEST).unlink()
    _refused(tmp_path, snap, f"{snap / MANIFEST}: is missing, so this is not a complete snapshot. "
                             "give a folder "
                             "written by `skin-analyzer backup` (a *.partial-* folder is unfinished)")


def test_a_snapshot_from_a_newer_schema_is_refused(snap, tmp_path):
    m = json.loads((snap / MANIFEST).read_text())
    m["schema_revision"], m["analyzer_version"] = "0099_future", "9.0.0"
    (snap / MANIFEST).write_text(json.dumps(m))
    _refused(tmp_path, snap, f"{snap}: made by a newer analyzer (schema revision '0099_future', 9.0.0). "
                             "upgrade the analyzer first")


def test_a_manifest_naming_a_file_outside_the_snapshot_is_refused(snap, tmp_path):
    m = json.loads((snap / MANIFEST).read_text())
    m["files"].append({"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64})
    (snap / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BackupError, match="lists a file it cannot name safely"):
        restore(tmp_path / "target" / "analyzer.db", snap, actor=OP)
    assert not (tmp_path / "target").exists()


def test_a_store_holding_data_is_replaced_only_with_force(source, snap, tmp_path):
    _, rows, photos = source
    target = tmp_path / "busy" / "analyzer.db"
    with open_store(target) as store:
        create_patient(store, "OTHER", actor=OP)
    before = target.read_bytes()
    with pytest.raises(BackupError) as e:
        restore(target, snap, actor=OP)
    assert e.value.message == (f"sqlite:///{target}: already holds 1 patient(s) and 0 user account(s). "
                               "restore into an empty store, or add --force to replace it")
    assert target.read_bytes() == before and photo_bytes(target.parent) == {}
    got = restore(target, snap, actor=OP, force=True)
    assert got.replaced
    back = dump(target)
    assert back["patient"] == rows["patient"] and back["photo"] == rows["photo"]
    assert photo_bytes(target.parent) == photos
    assert not Path(f"{target}-wal").exists() or Path(f"{target}-wal").stat().st_size == 0


def test_an_empty_store_is_no_obstacle(snap, tmp_path):
    target = tmp_path / "empty" / "analyzer.db"
    open_store(target).close()  # migrated, no patient, no user
    assert restore(target, snap, actor=OP).replaced is False


def test_only_an_admin_may_back_up_or_restore(source, snap, tmp_path):
    db, _, _ = source
    dr = Actor("drbk", "practitioner", user_id=1)
    with open_store(db) as store:
        with pytest.raises(PermissionDenied, match="store.backup: your account may not do this"):
            backup(store, tmp_path / "nope", actor=dr)
        with store.sessions() as s:
            last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (last.actor, last.action, last.outcome) == ("drbk", "store.backup", "denied")
    assert not (tmp_path / "nope").exists()
    with pytest.raises(PermissionDenied, match="store.backup: your account may not do this"):
        restore(tmp_path / "t" / "analyzer.db", snap, actor=dr)
    assert not (tmp_path / "t").exists()


def test_backup_refuses_an_existing_folder(source, tmp_path):
    (tmp_path / "there").mkdir()
    with pytest.raises(BackupError) as e:
        snapshot_of(source[0], tmp_path / "there")
    assert e.value.message == f"{tmp_path / 'there'}: already exists. give a new folder name for the snapshot"


def test_backup_into_a_folder_that_cannot_be_written_leaves_nothing(source, tmp_path, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(BackupError) as e:
        snapshot_of(source[0], blocker / "snap")
    assert e.value.message == (f"{blocker}: is not a folder. "
                               "create it first or choose another place for the snapshot")

    def no_permission(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(backup_module.tempfile, "mkdtemp", no_permission)
    with pytest.raises(BackupError) as e:
        snapshot_of(source[0], tmp_path / "snap")
    assert e.value.message == (f"{tmp_path}: cannot create the snapshot folder here (Permission denied). "
                               "choose a folder you can write to, with free space")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_full_disk_leaves_no_folder_that_looks_complete(source, tmp_path, monkeypatch):
    real, calls = backup_module.copy_hashed, []

    def fills_up(src, dest):
        calls.append(dest)
        if len(calls) == 2:  # the second photo: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dest)

    monkeypatch.setattr(backup_module, "copy_hashed", fills_up)
    with pytest.raises(BackupError) as e:
        snapshot_of(source[0], tmp_path / "snap")
    assert e.value.message == (f"{tmp_path}: cannot write the snapshot (No space left on device). free space "
                               "there or choose a folder you can write to; nothing was left behind")
    assert list(tmp_path.iterdir()) == []
    with open_store(source[0]) as store, store.sessions() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (last.action, last.outcome, last.detail) == ("store.backup", "failed", {"reason": "OSError"})


def test_a_photo_missing_from_the_store_is_listed_and_the_backup_goes_on(az, tmp_path):
    db = tmp_path / "s" / "analyzer.db"
    with open_store(db) as store:
        fill(store, az)
    gone = sorted((db.parent / "photos").iterdir())[0]
    gone.unlink()
    summary = snapshot_of(db, tmp_path / "snap")
    rel = f"photos/{gone.name}"
    assert (summary.missing, summary.photos) == ((rel,), 1)
    assert json.loads((tmp_path / "snap" / MANIFEST).read_text())["missing_photos"] == [rel]
    assert not (tmp_path / "snap" / rel).exists()


def test_the_command_line_backs_up_and_restores(source, tmp_path, capsys):
    db, rows, photos = source
    out = io.StringIO()
    assert main(["backup", str(tmp_path / "snap"), "--db", str(db)], stdout=out) == 0
    line = out.getvalue()
    assert line.startswith("backup: 3 files (")
    assert "2 photos), schema revision 0003_accounts, written to " in line
    target = tmp_path / "t" / "analyzer.db"
    out = io.StringIO()
    assert main(["restore", str(tmp_path / "snap"), "--db", str(target)], stdout=out) == 0
    assert out.getvalue().startswith("restore: 3 files (")
    assert f"schema revision 0003_accounts, into sqlite:///{target}" in out.getvalue()
    assert dump(target)["photo"] == rows["photo"] and photo_bytes(target.parent) == photos

    capsys.readouterr()
    assert main(["restore", str(tmp_path / "snap"), "--db", str(target)], stdout=io.StringIO()) == 1
    assert capsys.readouterr().err == (f"error: sqlite:///{target}: already holds 2 patient(s) and 2 user "
                                       "account(s). restore into an empty store, or add --force to "
                                       "replace it\n")
    forced = ["restore", str(tmp_path / "snap"), "--db", str(target), "--force"]
    assert main(forced, stdout=io.StringIO()) == 0
    assert main(["backup", str(tmp_path / "snap"), "--db", str(db)], stdout=io.StringIO()) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'snap'}: already exists. "
                                       "give a new folder name for the snapshot\n")


def test_audit_rows_written_after_the_snapshot_are_not_in_it(source, tmp_path):
    db, _, _ = source
    with open_store(db) as store:
        record(store, OP, "audit.view")
        snapshot_of(db, tmp_path / "snap")
    in_snapshot = [r[4] for r in dump(tmp_path / "snap" / "database.sqlite")["audit_event"]]
    assert in_snapshot[-1] == "audit.view"


def test_the_postgresql_password_goes_through_the_environment_never_the_command_line():
    from sqlalchemy.engine import make_url

    uri, env = backup_module._libpq(make_url("postgresql+psycopg://clinic:s3cr%40t@db.example:5433/analyzer"))
    assert uri == "postgresql://clinic@db.example:5433/analyzer"
    assert env["PGPASSWORD"] == "s3cr@t"


def test_a_missing_pg_tool_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYZER_PG_BIN", str(tmp_path))
    with pytest.raises(BackupError) as e:
        backup_module._pg_tool("pg_dump")
    assert e.value.message == (f"{tmp_path / 'pg_dump'}: pg_dump is not there (ANALYZER_PG_BIN={tmp_path}). "
                               "set ANALYZER_PG_BIN to the folder holding PostgreSQL's pg_dump")
