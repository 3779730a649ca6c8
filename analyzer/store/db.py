"""Opening the store: engine, SQLite pragmas, migrations to head, and the data directory."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..errors import AnalyzerError

__all__ = ["DEFAULT_DB_PATH", "ENV_DATA_DIR", "ENV_URL", "Store", "StoreError", "open_store"]

DEFAULT_DB_PATH = Path("data") / "analyzer.db"
"""The default SQLite file, relative to the working directory."""

ENV_URL = "ANALYZER_DB_URL"
"""Environment variable with an SQLAlchemy URL (e.g. ``postgresql+psycopg://...``)."""

ENV_DATA_DIR = "ANALYZER_DATA_DIR"
"""Environment variable for the data directory when the database is not an SQLite file."""

SQLITE_BUSY_TIMEOUT_MS = 10_000

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(AnalyzerError):
    """The store cannot be opened, or a record it is asked for does not exist."""


@dataclass(frozen=True)
class Store:
    """An open store: the engine, a session factory and the data directory.

    Attributes
    ----------
    url : str
        The database URL (password hidden).
    engine : sqlalchemy.Engine
    sessions : sessionmaker
        ``with store.sessions() as s: ...``
    data_dir : Path
        Holds the stored copies, ``photos/<keyed name>.jpg``
        (:func:`analyzer.store.photos.stored_name`); next to the database for SQLite files.
        Made 0700 when opened (see :func:`_make_private_dir`).
    """

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    data_dir: Path

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted rows (a patient, a photo's analyses, an ended session) are overwritten with zeros,
    # not left readable in free pages of the file until reused.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def resolve_url(db: str | os.PathLike | None = None) -> str:
    """The database URL: ``db`` (a URL or an SQLite file path), else ``$ANALYZER_DB_URL``, else
    ``data/analyzer.db`` in the working directory."""
    if db is None:
        db = os.environ.get(ENV_URL) or DEFAULT_DB_PATH
    text = os.fspath(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
"""Permissions of the SQLite database file, of the data folder and of the stored photos' folder:
the owner (the account the dashboard and the CLI run as) only.  Stored copies are written 0600
(``analyzer._files.write_atomically`` makes them with ``mkstemp``)."""


def _make_private_dir(folder: Path) -> None:
    """Create ``folder`` (and parents) and make it 0700.

    A folder shared with others is left as it is: one with the sticky bit (``/tmp``) or owned
    by another account, for a database put there by hand; the photos folder and the database
    file inside are private in any case."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    st = folder.stat()
    if st.st_mode & stat.S_ISVTX or st.st_uid != os.geteuid():
        return
    folder.chmod(PRIVATE_DIR_MODE)  # mkdir's mode obeys the umask; an old folder may be 0755


def open_store(db: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None) -> Store:
    """Open (creating if needed) the store and upgrade its schema to the newest migration.

    Parameters
    ----------
    db : str or PathLike, optional
        An SQLAlchemy URL or an SQLite file path; default ``$ANALYZER_DB_URL`` or
        ``data/analyzer.db``.
    data_dir : str or PathLike, optional
        Where stored photo copies go; default: the SQLite file's folder, else
        ``$ANALYZER_DATA_DIR`` or ``data``.  It and its ``photos/`` are made 0700, an SQLite
        file 0600 (health data: the owner only).

    Raises
    ------
    StoreError
        When the database cannot be opened or migrated.
    """
    url = make_url(resolve_url(db))
    shown = url.render_as_string(hide_password=True)
    is_sqlite = url.get_backend_name() == "sqlite"
    db_file = Path(url.database) if is_sqlite and url.database not in (None, "", ":memory:") else None
    if data_dir is None:
        data_dir = db_file.parent if db_file is not None else Path(os.environ.get(ENV_DATA_DIR) or "data")
    data_dir = Path(data_dir).resolve()
    try:
        _make_private_dir(data_dir)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
            # Health data: the database file is readable by its owner only (SQLite gives its
            # -wal and -shm files the same permissions); an empty file is an empty database.
            os.close(os.open(db_file, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
            db_file.chmod(PRIVATE_FILE_MODE)
        photos = data_dir / "photos"
        photos.mkdir(exist_ok=True, mode=PRIVATE_DIR_MODE)
        photos.chmod(PRIVATE_DIR_MODE)  # the stored photos: owner only (mkdir's mode obeys the umask)
    except OSError as e:
        raise StoreError(shown, f"cannot create the data folder ({e.strerror or e})",
                         f"check that {data_dir} is writable, or set {ENV_URL}") from e
    kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}} if is_sqlite else {}
    engine = create_engine(url, **kwargs)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        upgrade(engine)
    except Exception as e:
        engine.dispose()
        # The driver's own first line (SQLAlchemy adds the statement and a help link below it).
        detail = (str(getattr(e, "orig", None) or e).strip().splitlines() or [""])[0]
        raise StoreError(shown, f"cannot open or migrate the database ({type(e).__name__}: {detail})",
                         f"check the database URL (--db, or {ENV_URL}) and that the database is "
                         "reachable") from e
    return Store(url=shown, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False), data_dir=data_dir)


def alembic_config():
    """An Alembic :class:`~alembic.config.Config` pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on ``engine``."""
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
