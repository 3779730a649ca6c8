"""The store's schema: Alembic migrations agree with the ORM, opening is idempotent, SQLite
settings, and where the database goes by default."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from analyzer.store import ENV_URL, StoreError, open_store
from analyzer.store.db import resolve_url
from analyzer.store.models import Base


def test_migrated_schema_matches_orm(tmp_path):
    with open_store(tmp_path / "a.db") as store, store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_all_tables_created_and_at_head(tmp_path):
    with open_store(tmp_path / "a.db") as store:
        names = set(inspect(store.engine).get_table_names())
        with store.engine.connect() as conn:
            rev = MigrationContext.configure(conn).get_current_revision()
    assert set(Base.metadata.tables) <= names
    assert rev == "0003_accounts"


def test_open_twice_is_idempotent_and_sqlite_settings(tmp_path):
    open_store(tmp_path / "a.db").close()
    with open_store(tmp_path / "a.db") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # deleted rows overwritten
    assert store.photo_dir == tmp_path / "photos" and store.photo_dir.is_dir()


def test_url_from_environment_and_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_URL, raising=False)
    assert resolve_url() == f"sqlite:///{tmp_path / 'data' / 'analyzer.db'}"
    monkeypatch.setenv(ENV_URL, f"sqlite:///{tmp_path / 'env.db'}")
    with open_store() as store:
        assert store.url.endswith("env.db")
    assert (tmp_path / "env.db").exists()
    assert resolve_url("postgresql+psycopg://u:p@h/db") == "postgresql+psycopg://u:p@h/db"


def test_unopenable_database_names_the_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="writable|open"):
        open_store(blocker / "sub" / "a.db")


def test_migrations_render_for_postgresql_without_sqlite_sql():
    import io

    from alembic import command

    from analyzer.store.db import alembic_config

    cfg = alembic_config()
    cfg.output_buffer = io.StringIO()
    cfg.set_main_option("sqlalchemy.url", "postgresql://")
    command.upgrade(cfg, "head", sql=True)
    sql = cfg.output_buffer.getvalue()
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} " in sql
    assert "SERIAL" in sql and "JSON" in sql
    assert "PRAGMA" not in sql.upper() and "AUTOINCREMENT" not in sql.upper()


def test_downgrade_removes_everything(tmp_path):
    from alembic import command

    from analyzer.store.db import alembic_config

    with open_store(tmp_path / "a.db") as store:
        cfg = alembic_config()
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}


def test_the_database_and_the_photos_are_private_to_their_owner(tmp_path):
    import stat

    with open_store(tmp_path / "db" / "a.db") as store:
        db = tmp_path / "db" / "a.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(store.photo_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700  # the data folder itself
    # An existing, world-readable database and data folder are made private when opened.
    db.chmod(0o644)
    db.parent.chmod(0o755)
    open_store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_deleted_rows_leave_no_readable_trace_in_the_database_file(tmp_path):
    # secure_delete: a deleted patient's name is overwritten, not left in a free page.
    from analyzer.store.models import Patient
    from analyzer.store.records import now

    db = tmp_path / "a.db"
    with open_store(db) as store:
        with store.sessions.begin() as s:
            s.add(Patient(pseudonym="P1", display_name="Zyxwvut Qponmlk", created_at=now()))
        with store.sessions.begin() as s:
            s.delete(s.query(Patient).one())
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"Zyxwvut" not in db.read_bytes()
