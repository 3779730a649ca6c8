"""Consent as a record: the texts a patient consents to, giving and withdrawing, the history,
and the care-consent gate every photo passes (docs/security.md).

A consent has a scope (:data:`analyzer.vocab.CONSENT_SCOPES`: ``care``, ``research``), the
version of the text consented to (:data:`CONSENT_TEXTS`), who recorded it and when, and when
and by whom it was withdrawn.  Rows are never rewritten: withdrawing closes the open consent,
giving again opens a new one, so the history stays readable.

* **care**: no photo is stored or analysed without it (:func:`require_care_consent`, called by
  every import before anything is read).  Withdrawing it stops further photos; the photos
  already stored stay until the clinic's admin deletes them (deletion is the admin's:
  :func:`analyzer.service.patients.delete_patient`).
* **research**: the patient's observations go into the de-identified export only while it is
  open (:mod:`analyzer.service.export`); the export register says who already holds data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy.orm import Session

from ..errors import AnalyzerError
from ..store.db import Store, StoreError
from ..store.records import find_patient, has_consent, now, require_patient, set_consent
from ..vocab import CONSENT_SCOPES
from . import audit
from .access import Actor, check

__all__ = [
    "CONSENT_TEXTS",
    "ConsentRecord",
    "ConsentRequired",
    "ConsentText",
    "consents",
    "give_consent",
    "has_open_consent",
    "require_care_consent",
    "withdraw_consent",
]


@dataclass(frozen=True)
class ConsentText:
    """The text a patient consents to.

    Attributes
    ----------
    scope : str
        ``care`` or ``research``.
    version : str
        Recorded with every consent given (``care-1``); a changed text gets a new version.
    text : str
        Plain language: what is stored, who sees it, how to withdraw.
    """

    scope: str
    version: str
    text: str


CONSENT_TEXTS: MappingProxyType[str, ConsentText] = MappingProxyType({
    "care": ConsentText("care", "care-1", (
        "Your selfies, the measurements made from them (redness, pigment, texture), your "
        "treatments and your symptom diary are stored by the clinic to follow your recovery. "
        "Only you, the practitioners looking after you and the clinic's admin can see them. "
        "You can withdraw this consent at any time on your Patient page or by asking the "
        "clinic: no further photo is then stored or analysed, and the clinic deletes what is "
        "stored when you ask it to.")),
    "research": ConsentText("research", "research-1", (
        "The measurements from your photos, the days since your treatment and your symptom "
        "levels may be given to researchers, without your name, photos or dates and under a "
        "code made for each study, never the clinic's own. Researchers never see your photos. "
        "You can withdraw this consent at any time on your Patient page: you are left out of "
        "every later export, and the clinic's export register tells it who already received "
        "your data so they can be told.")),
})
"""The current text of each scope (:data:`analyzer.vocab.CONSENT_SCOPES`)."""


class ConsentRequired(AnalyzerError):
    """The patient has not given the consent this needs; the message says how to record it."""


@dataclass(frozen=True)
class ConsentRecord:
    """One consent in a patient's history (naive UTC times, as the store keeps them).

    Attributes
    ----------
    scope : str
    given_at : datetime
    text_version : str or None
        The version of the text consented to (None for consents recorded before versions).
    recorded_by : str or None
        The login that recorded it (``cli:<os user>`` from the command line).
    withdrawn_at : datetime or None
    withdrawn_by : str or None
    """

    scope: str
    given_at: datetime
    text_version: str | None
    recorded_by: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None


def _scope(scope: str) -> str:
    if scope not in CONSENT_SCOPES:
        raise StoreError(f"consent {scope!r}", "unknown scope of consent",
                         f"use one of {', '.join(CONSENT_SCOPES)}")
    return scope


def give_consent(store: Store, pseudonym: str, scope: str, *, actor: Actor,
                 given_at: datetime | None = None) -> None:
    """Record that the patient gave ``scope`` consent to the current text
    (:data:`CONSENT_TEXTS`), recorded by ``actor`` (audited ``consent.give``).  Nothing changes
    while a consent of that scope is open.  A new patient is created (admin only: anyone else
    reaches existing patients only).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may change the patient's consent (``consent.change``).
    StoreError
        For an unknown scope or a bad pseudonym.
    """
    check(store, actor, "consent.change", pseudonym)
    version = CONSENT_TEXTS[_scope(scope)].version

    def log(s: Session) -> None:
        audit.record(store, actor, "consent.give", patient=pseudonym, session=s,
                     detail={"scope": scope, "text_version": version})

    set_consent(store, pseudonym, scope, given_at=given_at, text_version=version, recorded_by=actor.login,
                also=log)


def withdraw_consent(store: Store, pseudonym: str, scope: str, *, actor: Actor,
                     at: datetime | None = None) -> None:
    """Close the patient's open ``scope`` consent, recorded by ``actor`` (audited
    ``consent.withdraw``); nothing happens when none is open.  Withdrawing care consent deletes
    no photo (that is the admin's deletion), but no further photo is stored or analysed.

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may change the patient's consent (``consent.change``).
    StoreError
        For an unknown scope or patient.
    """
    check(store, actor, "consent.change", pseudonym)
    _scope(scope)

    def log(s: Session) -> None:
        audit.record(store, actor, "consent.withdraw", patient=pseudonym, session=s, detail={"scope": scope})

    set_consent(store, pseudonym, scope, withdrawn_at=at or now(), withdrawn_by=actor.login, also=log)


def consents(store: Store, pseudonym: str, *, actor: Actor) -> list[ConsentRecord]:
    """The patient's consent history, oldest first (audited as a view of the record).

    Raises
    ------
    PermissionDenied
        Unless ``actor`` may view the patient's record.
    StoreError
        For an unknown patient.
    """
    check(store, actor, "record.view", pseudonym)
    with store.sessions() as s:
        p = require_patient(s, pseudonym)
        out = [ConsentRecord(c.kind, c.given_at, c.text_version, c.recorded_by, c.withdrawn_at,
                             c.withdrawn_by) for c in sorted(p.consents, key=lambda c: (c.given_at, c.id))]
    audit.record(store, actor, "record.view", patient=pseudonym)
    return out


def has_open_consent(store: Store, pseudonym: str, scope: str) -> bool:
    """True when the patient exists and has an open ``scope`` consent (no access check: the
    use cases call it after their own)."""
    with store.sessions() as s:
        p = find_patient(s, pseudonym)
        return p is not None and has_consent(p, _scope(scope))


def require_care_consent(store: Store, pseudonym: str) -> None:
    """Go on when the patient has an open care consent; otherwise raise
    :class:`ConsentRequired` saying how to record it (also for a patient not in the store)."""
    if not has_open_consent(store, pseudonym, "care"):
        raise ConsentRequired(pseudonym, "no care consent is recorded, so no photo is stored or analysed",
                              "record it first: add --consent care to the command, or give consent on the "
                              "Patient page")
