"""The audit log: append-only, one row per view of a patient's record, change, export, deletion
and sign-in (failures included): who, what, whose record, when, and how it ended.

Rows are only ever added (the database's own triggers refuse UPDATE and DELETE on
``audit_event``; migration 0003).  Repeated views of the same record by the same user within
:data:`VIEW_COALESCE_S` are written once, so a dashboard that redraws on every click does not
bury the log.  Nothing about a patient's health goes into ``detail``: counts, file counts,
filters and reasons only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.db import Store
from ..store.models import AuditEvent
from ..store.records import now
from ..vocab import AUDIT_OUTCOMES
from .access import Actor, check

__all__ = ["VIEW_COALESCE_S", "AuditRow", "events", "record"]

VIEW_COALESCE_S = 600
"""Seconds within which the same user's repeated views of the same record count as one."""

MAX_ACTOR_CHARS = 200


@dataclass(frozen=True)
class AuditRow:
    """One line of the log, as the admin page shows it."""

    at: datetime
    actor: str
    role: str | None
    action: str
    patient: str | None
    outcome: str
    detail: Mapping[str, Any] | None


def _recent_view(s: Session, actor: str, action: str, patient: str | None, at: datetime) -> bool:
    since = at - timedelta(seconds=VIEW_COALESCE_S)
    return s.scalar(select(AuditEvent.id).where(
        AuditEvent.actor == actor, AuditEvent.action == action, AuditEvent.patient == patient,
        AuditEvent.outcome == "ok", AuditEvent.at >= since).limit(1)) is not None


def record(store: Store, actor: Actor | str, action: str, *, patient: str | None = None, outcome: str = "ok",
           detail: Mapping[str, Any] | None = None, session: Session | None = None) -> None:
    """Append one event.  ``actor`` is the acting user, or for a failed sign-in the login that
    was typed (kept as text, cut to 200 characters).  With ``session`` the row joins that
    transaction, so a change and its audit line are committed together or not at all."""
    if outcome not in AUDIT_OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(AUDIT_OUTCOMES)}")
    login = (actor.login if isinstance(actor, Actor) else str(actor))[:MAX_ACTOR_CHARS]
    role = actor.role if isinstance(actor, Actor) else None
    at = now()

    def add(s: Session) -> None:
        if action.endswith(".view") and outcome == "ok" and _recent_view(s, login, action, patient, at):
            return
        s.add(AuditEvent(at=at, actor=login, role=role, action=action, patient=patient, outcome=outcome,
                         detail=dict(detail) if detail else None))

    if session is not None:
        add(session)
        return
    with store.sessions.begin() as s:
        add(s)


def events(store: Store, actor: Actor, *, who: str | None = None, action: str | None = None,
           patient: str | None = None, outcome: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 1000) -> list[AuditRow]:
    """The log, newest first, filtered (admin only).  ``who`` and ``action`` match a part of the
    text; ``since``/``until`` are naive UTC times."""
    check(store, actor, "audit.view")
    q = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if who:
        q = q.where(AuditEvent.actor.contains(who, autoescape=True))
    if action:
        q = q.where(AuditEvent.action.contains(action, autoescape=True))
    if patient:
        q = q.where(AuditEvent.patient == patient)
    if outcome:
        q = q.where(AuditEvent.outcome == outcome)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    if until is not None:
        q = q.where(AuditEvent.at <= until)
    with store.sessions() as s:
        return [AuditRow(e.at, e.actor, e.role, e.action, e.patient, e.outcome, e.detail) for e in s.scalars(q)]
