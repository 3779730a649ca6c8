"""Who is acting, and what each role may do: the one role policy (docs/security.md).

Every use case takes the acting user (an :class:`Actor`) and calls :func:`check` before it reads
or changes anything; a refusal raises :class:`PermissionDenied` and is written to the audit log.
Nothing here trusts the dashboard to hide a widget: the pages only show what the use cases let
through.

======================  ===========================================================================
action                  who may (``own``: only patients within the actor's reach)
======================  ===========================================================================
``record.view``         patient (own), practitioner (assigned), admin
``record.change``       patient (own), practitioner (assigned), admin: photos, diary, treatment
``consent.change``      patient (own), practitioner (assigned), admin
``patient.create``      practitioner (the new patient joins their caseload), admin
``patient.invite``      practitioner (assigned), admin
``triage.view``         practitioner (their caseload), admin (everyone)
``report.view``         practitioner (assigned), admin
``export.deidentified`` researcher, admin: consenting patients only, keyed pseudonyms
``export.identified``   admin
``patient.delete``      admin (photos too)
``users.manage``        admin: accounts, caseloads
``audit.view``          admin
``store.details``       admin: the database's address and connection errors
``store.backup``        admin: backup and restore of the whole store
======================  ===========================================================================

A patient's reach is their own record; a practitioner's the patients assigned to them; an
admin's every patient; a researcher's none (the de-identified export is not a record view).
The command line acts as :meth:`Actor.operator`: whoever runs it can read the database file
anyway, so it has the admin's rights, and its actions are audited under the operating-system
account's name.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import select

from ..errors import AnalyzerError
from ..store.db import Store
from ..store.models import Assignment, Patient
from ..vocab import ROLES

__all__ = ["ACTIONS", "Actor", "PermissionDenied", "check", "may", "reach"]

ACTIONS: MappingProxyType[str, tuple[frozenset[str], bool]] = MappingProxyType({
    # action: (roles that may, whether the patient must be within the actor's reach)
    "record.view": (frozenset({"patient", "practitioner", "admin"}), True),
    "record.change": (frozenset({"patient", "practitioner", "admin"}), True),
    "consent.change": (frozenset({"patient", "practitioner", "admin"}), True),
    "patient.create": (frozenset({"practitioner", "admin"}), False),
    "patient.invite": (frozenset({"practitioner", "admin"}), True),
    "triage.view": (frozenset({"practitioner", "admin"}), False),
    "report.view": (frozenset({"practitioner", "admin"}), True),
    "export.deidentified": (frozenset({"researcher", "admin"}), False),
    "export.identified": (frozenset({"admin"}), False),
    "patient.delete": (frozenset({"admin"}), True),
    "users.manage": (frozenset({"admin"}), False),
    "audit.view": (frozenset({"admin"}), False),
    "store.details": (frozenset({"admin"}), False),
    "store.backup": (frozenset({"admin"}), False),
})
"""The role policy (the table in this module's docstring)."""


class PermissionDenied(AnalyzerError):
    """The acting user may not do this.  The message never says whether the patient exists."""


@dataclass(frozen=True)
class Actor:
    """The acting user.

    Attributes
    ----------
    login : str
        The account's login (``cli:<os user>`` for the command line).
    role : str
        One of :data:`analyzer.vocab.ROLES`.
    user_id : int or None
        The account's id in the store (None for the command line).
    patient : str or None
        A patient account's own pseudonym.
    via : str
        How they signed in: ``password``, ``oidc`` or ``cli``.
    """

    login: str
    role: str
    user_id: int | None = None
    patient: str | None = None
    via: str = "password"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; use one of {', '.join(ROLES)}")
        if self.role == "patient" and not self.patient:
            raise ValueError("a patient account must be tied to a patient")

    @classmethod
    def operator(cls) -> Actor:
        """The command line, run by whoever can read the store (admin rights, audited by name)."""
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(login=f"cli:{who}", role="admin", via="cli")


def reach(store: Store, actor: Actor) -> frozenset[str] | None:
    """The pseudonyms whose records ``actor`` may open; None means every patient (admin)."""
    if actor.role == "admin":
        return None
    if actor.role == "patient":
        return frozenset({actor.patient})
    if actor.role == "practitioner" and actor.user_id is not None:
        with store.sessions() as s:
            return frozenset(s.scalars(
                select(Patient.pseudonym).join(Assignment, Assignment.patient_id == Patient.id)
                .where(Assignment.user_id == actor.user_id)))
    return frozenset()


def may(store: Store, actor: Actor, action: str, patient: str | None = None) -> bool:
    """True when ``actor`` may do ``action`` (to ``patient``, for actions on a record)."""
    try:
        roles, own = ACTIONS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None
    if actor.role not in roles:
        return False
    if not own:
        return True
    if patient is None:  # an action on a record that names none: only for whoever reaches all
        return actor.role == "admin"
    allowed = reach(store, actor)
    return allowed is None or patient in allowed


def check(store: Store, actor: Actor, action: str, patient: str | None = None) -> None:
    """Go on when ``actor`` may do ``action`` (to ``patient``); otherwise audit the refusal and
    raise :class:`PermissionDenied` (which does not say whether the patient exists)."""
    if may(store, actor, action, patient):
        return
    from .audit import record

    record(store, actor, action, patient=patient, outcome="denied")
    what = f"patient {patient}" if patient is not None else action
    raise PermissionDenied(what, "your account may not do this",
                           "sign in with an account that may, or ask the clinic's admin")
