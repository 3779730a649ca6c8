"""What the Admin page does: accounts and caseloads, invites, the audit log and the export
register as tables, deletion, the orphan-file sweep, and the store's connection details.

Plain Python (no Streamlit): each function takes the acting user (``actor``, keyword-only) and
calls the use cases of :mod:`analyzer.service`, which check it (admin only) and audit it.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

import pandas as pd

from analyzer.errors import AnalyzerError
from analyzer.service import users
from analyzer.service.access import Actor, check
from analyzer.service.audit import events
from analyzer.service.export import export_register
from analyzer.service.patients import delete_patient, delete_photo, sweep_orphans
from analyzer.store.db import Store
from analyzer.store.records import DeleteSummary

__all__ = [
    "AUDIT_COLUMNS",
    "USER_COLUMNS",
    "ConfirmationMismatch",
    "add_account",
    "audit_table",
    "delete_patient_confirmed",
    "delete_photo_of",
    "register_table",
    "store_details",
    "sweep",
    "users_table",
]

USER_COLUMNS = ("login", "role", "patient", "caseload", "sign_in", "disabled", "created_at")
"""The columns of :func:`users_table`, in order."""

AUDIT_COLUMNS = ("at", "actor", "role", "action", "patient", "outcome", "detail")
"""The columns of :func:`audit_table`, in order (``at`` in UTC)."""


class ConfirmationMismatch(AnalyzerError):
    """A deletion was not confirmed by typing the patient's pseudonym exactly."""


def users_table(store: Store, *, actor: Actor) -> pd.DataFrame:
    """Every account: login, role, patient (a patient's account), caseload (a practitioner's
    patients, comma separated), how they sign in, disabled, created (UTC)."""
    rows = [{"login": u.login, "role": u.role, "patient": u.patient or "", "caseload": ", ".join(u.caseload),
             "sign_in": "clinic account" if u.oidc else "password", "disabled": bool(u.disabled),
             "created_at": u.created_at} for u in users.list_users(store, actor=actor)]
    return pd.DataFrame(rows, columns=list(USER_COLUMNS))


def add_account(store: Store, login: str, role: str, *, actor: Actor, patient: str | None = None,
                oidc_subject: str | None = None) -> tuple[users.UserInfo, str | None]:
    """Add an account; returns it and its generated password (shown once; None for an account
    that signs in through the clinic's identity provider)."""
    password = None if oidc_subject else users.new_password()
    info = users.add_user(store, login.strip(), role, actor=actor, patient=(patient or "").strip() or None,
                          password=password, oidc_subject=(oidc_subject or "").strip() or None)
    return info, password


def _day_start(d: date | None) -> datetime | None:
    return None if d is None else datetime.combine(d, time(0, 0))


def audit_table(store: Store, *, actor: Actor, who: str = "", action: str = "", patient: str = "",
                outcome: str = "", since: date | None = None, until: date | None = None,
                limit: int = 1000) -> pd.DataFrame:
    """The audit log, newest first, filtered: ``who`` and ``action`` match part of the text,
    ``patient`` and ``outcome`` exactly; ``since``/``until`` are whole days (UTC), both
    included.  ``detail`` is shown as ``key=value`` pairs."""
    end = None if until is None else _day_start(until + timedelta(days=1)) - timedelta(microseconds=1)
    rows = events(store, actor, who=who.strip() or None, action=action.strip() or None,
                  patient=patient.strip() or None, outcome=outcome or None, since=_day_start(since),
                  until=end, limit=limit)
    out = [{"at": r.at, "actor": r.actor, "role": r.role or "", "action": r.action,
            "patient": r.patient or "", "outcome": r.outcome,
            "detail": ", ".join(f"{k}={v}" for k, v in (r.detail or {}).items())} for r in rows]
    return pd.DataFrame(out, columns=list(AUDIT_COLUMNS))


def _as_row(entry) -> dict:
    if dataclasses.is_dataclass(entry):
        row = dataclasses.asdict(entry)
    elif isinstance(entry, dict):
        row = dict(entry)
    else:
        row = dict(vars(entry))
    return {k: (", ".join(map(str, v)) if isinstance(v, list | tuple) else
                ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else v)
            for k, v in row.items()}


def register_table(store: Store, *, actor: Actor) -> pd.DataFrame:
    """The export register (:func:`analyzer.service.export.export_register`): who exported what,
    when, which patients, which filters; newest as the register orders it."""
    return pd.DataFrame([_as_row(e) for e in export_register(store, actor=actor)])


def delete_patient_confirmed(store: Store, pseudonym: str, typed: str, *, actor: Actor) -> DeleteSummary:
    """Delete a patient with every photo, after ``typed`` repeats the pseudonym exactly."""
    if typed.strip() != pseudonym or not pseudonym:
        raise ConfirmationMismatch(f"patient {pseudonym}", "the typed pseudonym does not match",
                                   "type the patient's pseudonym exactly to confirm the deletion")
    return delete_patient(store, pseudonym, actor=actor)


def delete_photo_of(store: Store, sha256: str, *, actor: Actor,
                    pseudonym: str | None = None) -> DeleteSummary:
    """Delete one photo (by its SHA-256; of ``pseudonym`` only, when given)."""
    sha = sha256.strip().lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise AnalyzerError(f"photo {sha256.strip()[:70]}", "not a SHA-256 (64 hexadecimal digits)",
                            "copy the photo's SHA-256 from the export or the command line's list")
    return delete_photo(store, sha, actor=actor, pseudonym=(pseudonym or "").strip() or None)


def sweep(store: Store, *, actor: Actor) -> tuple[str, ...]:
    """Remove the files under ``photos/`` that no record refers to; returns their paths."""
    return sweep_orphans(store, actor=actor)


def store_details(store: Store, *, actor: Actor) -> dict[str, str]:
    """The store's address (password hidden), its backend and data folder: admins only."""
    check(store, actor, "store.details")
    return {"database": store.url, "backend": store.engine.dialect.name, "data folder": str(store.data_dir)}
