"""Alembic environment: runs on the connection the store hands over (``config.attributes``),
or on ``sqlalchemy.url`` when run from the ``alembic`` command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from analyzer.store.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations on the handed-over connection, else on ``sqlalchemy.url``; in offline
    mode (``--sql``) print the SQL for that URL's dialect instead."""
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


try:
    _config = context.config  # only set while Alembic runs this file
except AttributeError:  # imported by a tool (e.g. doctest collection): nothing to do
    _config = None
if _config is not None:
    main()
