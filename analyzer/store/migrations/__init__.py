"""Alembic migrations of the store (applied by :func:`analyzer.store.open_store`)."""
