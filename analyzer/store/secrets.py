"""The store's own random keys (table ``secret``): made once, kept in the database, never
exported.  :func:`secret` is the one way to get one."""

from __future__ import annotations

import secrets as _random

from sqlalchemy.exc import IntegrityError

from .db import Store
from .models import Secret
from .records import now

__all__ = ["KEY_BYTES", "secret"]

KEY_BYTES = 32
"""256-bit keys (HMAC-SHA-256)."""


def secret(store: Store, name: str) -> bytes:
    """The key called ``name``, made (random, :data:`KEY_BYTES`) the first time it is asked for.
    Two processes asking at once get the same key (the second insert loses and reads it)."""
    with store.sessions() as s:
        row = s.get(Secret, name)
        if row is not None:
            return bytes.fromhex(row.value)
    try:
        with store.sessions.begin() as s:
            s.add(Secret(name=name, value=_random.token_hex(KEY_BYTES), created_at=now()))
    except IntegrityError:
        pass
    with store.sessions() as s:
        return bytes.fromhex(s.get(Secret, name).value)
