"""Accounts: built-in sign-in, dashboard sessions, invite codes, the identity provider's users,
and the admin's account management (docs/security.md).

Passwords
---------
Hashed with argon2id through :class:`argon2.PasswordHasher` with the parameters of RFC 9106's
second recommended option, the "low memory" profile (:data:`argon2.profiles.RFC_9106_LOW_MEMORY`:
t = 3 passes, m = 64 MiB, p = 4 lanes, 16-byte salt, 32-byte tag; RFC 9106 section 4, "If much
less memory is available").  A stored hash made with other parameters is replaced at the next
successful sign-in (``check_needs_rehash``).  A password has :data:`PASSWORD_MIN_CHARS` to
:data:`PASSWORD_MAX_CHARS` characters and is not the login.

Signing in
----------
:func:`authenticate` raises one :class:`AuthError` with the same sentence whatever went wrong
(unknown login, wrong password, disabled or locked account), and verifies a hash even for a login
that does not exist, so neither the message nor the time taken tells a stranger which logins
exist.  Throttling, per account: the :data:`MAX_FAILED_LOGINS`-th wrong password in a row locks
the account for :data:`LOCKOUT_S` seconds; after that, each further wrong password (before a
success) locks it again for twice as long as the time before, up to :data:`MAX_LOCKOUT_S`.
Attempts while locked are refused and not counted.  A success resets the count.  Every attempt
is audited (``signin``, ok or failed, with the reason in the log only).

Sessions and invites
--------------------
A dashboard session's token (:func:`start_session`: 256 random bits) and an invite code
(:func:`create_invite`: 12 characters without look-alikes, ``XXXX-XXXX-XXXX``, about 59 bits) are
kept only as their SHA-256.  A session ends after :data:`IDLE_TIMEOUT_S` without use,
:data:`SESSION_MAX_S` after it started, at sign-out, when the account is disabled and (the
user's others) when the password is changed.  An invite works once within :data:`INVITE_VALID_S`;
a patient has at most one account.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import AnalyzerError
from ..store.db import Store
from ..store.models import Assignment, Invite, Patient, User, WebSession
from ..store.records import now as utc_now
from ..store.records import require_patient
from ..vocab import ROLES
from . import audit
from .access import Actor, check

__all__ = [
    "IDLE_TIMEOUT_S", "INVITE_CODE_CHARS", "INVITE_VALID_S", "LOCKOUT_S", "LOGIN_MAX_CHARS",
    "LOGIN_MIN_CHARS", "MAX_FAILED_LOGINS", "MAX_LOCKOUT_S", "PASSWORD_MAX_CHARS", "PASSWORD_MIN_CHARS",
    "SESSION_MAX_S", "AccountError", "AuthError", "InviteError", "UserInfo", "activate", "add_user",
    "assign", "authenticate", "change_password", "create_invite", "end_session", "list_users",
    "new_password", "oidc_actor", "resume_session", "set_disabled", "start_session", "unassign",
]

PASSWORD_MIN_CHARS = 10
"""Shortest password accepted, characters."""

PASSWORD_MAX_CHARS = 1024
"""Longest password accepted, characters (a bound on the work one sign-in can ask for)."""

LOGIN_MIN_CHARS, LOGIN_MAX_CHARS = 3, 200
"""Length of a login, characters (the ``app_user.login`` column holds 200)."""

MAX_FAILED_LOGINS = 5
"""Wrong passwords in a row after which the account is locked."""

LOCKOUT_S = 300
"""Seconds the account is locked after :data:`MAX_FAILED_LOGINS` wrong passwords in a row."""

MAX_LOCKOUT_S = 86_400
"""Longest lock, seconds (each further wrong password doubles the lock up to this)."""

IDLE_TIMEOUT_S = 30 * 60
"""A dashboard session ends after this many seconds without use."""

SESSION_MAX_S = 12 * 3600
"""A dashboard session ends this many seconds after sign-in at the latest."""

SESSION_TOUCH_S = 60
"""A session's last use is written at most once per this many seconds (not on every redraw), so
a session may end up to this much sooner than :data:`IDLE_TIMEOUT_S` after its last use."""

INVITE_VALID_S = 7 * 86_400
"""An invite code works for this many seconds after it was made."""

INVITE_CODE_CHARS = 12
"""Characters in an invite code (shown in groups of 4)."""

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: typable from a printout
_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"

_HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)

_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$lDddzHvyTr1tpCnlBHUNyw$"
               "AJTukLOchtcOxfG9Rqe4kI4gm5gMk3F6S2PgDmevllQ")
"""A hash of no one's password with the same parameters: verified for unknown logins, so they
take as long as known ones."""


class AuthError(AnalyzerError):
    """A sign-in failed.  The message is the same whatever went wrong."""


class InviteError(AnalyzerError):
    """An invite code cannot be made or redeemed (unknown, used, expired, patient has an account)."""


class AccountError(AnalyzerError):
    """An account cannot be made or changed as asked (a bad login, role, password or patient)."""


_SIGNIN_FAILED = ("sign-in", "wrong username or password, or the account is locked for a while",
                  "try again in a few minutes, or ask the clinic's admin")
"""The one message of every failed sign-in (file, cause, fix of an :class:`AuthError`)."""


def _login_taken(login: str) -> AccountError:
    return AccountError(f"account {login!r}", "an account with this login already exists",
                        "choose another login, or see python -m analyzer users list")


_OIDC_UNKNOWN = ("sign-in", "this sign-in is not set up for the skin recovery dashboard",
                 "ask the clinic's admin to add your account")


@dataclass(frozen=True)
class UserInfo:
    """An account as the admin sees it (never its password hash).

    Attributes
    ----------
    login, role : str
    patient : str or None
        A patient account's pseudonym.
    disabled, oidc, password : bool
        Disabled; signs in through the clinic's identity provider; has a built-in password.
    caseload : tuple of str
        A practitioner's patients (pseudonyms, sorted); empty for other roles.
    created_at : datetime
        Naive UTC.
    """

    login: str
    role: str
    patient: str | None
    disabled: bool
    caseload: tuple[str, ...]
    oidc: bool
    created_at: datetime
    password: bool = False


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _check_login(login: str) -> str:
    if not isinstance(login, str) or not LOGIN_MIN_CHARS <= len(login) <= LOGIN_MAX_CHARS:
        raise AccountError(f"login {str(login)[:LOGIN_MAX_CHARS]!r}",
                           f"a login has {LOGIN_MIN_CHARS}-{LOGIN_MAX_CHARS} characters",
                           "choose another, e.g. a first name and an initial or an e-mail address")
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in login):
        raise AccountError(f"login {login!r}", "a login has no spaces or control characters",
                           "choose one without them, e.g. jane.d")
    return login


def _check_password(password: str, login: str) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_CHARS:
        raise AccountError("password", f"a password needs at least {PASSWORD_MIN_CHARS} characters",
                           "choose a longer one, e.g. a few unrelated words")
    if len(password) > PASSWORD_MAX_CHARS:
        raise AccountError("password", f"a password has at most {PASSWORD_MAX_CHARS} characters",
                           "choose a shorter one")
    if password.casefold() == login.casefold():
        raise AccountError("password", "the password may not be the username", "choose another")
    return password


def _hash(password: str) -> str:
    return _HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; a hash is verified even without one."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _user(s: Session, login: str) -> User | None:
    """The account ``login``, the case of its letters aside (a phone's keyboard capitalises the
    first letter): the exact login first, else the one login equal to it in other case."""
    user = s.scalar(select(User).where(User.login == login))
    if user is None:
        found = s.scalars(select(User).where(func.lower(User.login) == login.lower()).limit(2)).all()
        user = found[0] if len(found) == 1 else None
    return user


def _has_account(s: Session, patient_id: int) -> bool:
    return s.scalar(select(User.id).where(User.patient_id == patient_id).limit(1)) is not None


def _require_user(s: Session, login: str) -> User:
    user = _user(s, login)
    if user is None:
        raise AccountError(f"account {login!r}", "no such account",
                           "check the login (python -m analyzer users list)")
    return user


def _actor_of(user: User, via: str) -> Actor | None:
    """The acting user for an account; None for a patient account whose patient was deleted."""
    pseudonym = user.patient.pseudonym if user.patient is not None else None
    if user.role == "patient" and pseudonym is None:
        return None
    return Actor(login=user.login, role=user.role, user_id=user.id, patient=pseudonym, via=via)


def _lock_seconds(failures: int) -> int:
    """Seconds of lock after ``failures`` wrong passwords in a row (0: not locked)."""
    if failures < MAX_FAILED_LOGINS:
        return 0
    return min(MAX_LOCKOUT_S, LOCKOUT_S * 2 ** min(failures - MAX_FAILED_LOGINS, 20))


def _count_failure(s: Session, user: User, at: datetime) -> int:
    """One more wrong password in a row (counted in the database, so attempts made at once all
    count); the seconds the account is now locked for (0: not locked)."""
    s.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    s.refresh(user)
    lock = _lock_seconds(user.failed_logins)
    if lock:
        user.locked_until = at + timedelta(seconds=lock)
    return lock


def _caseloads(s: Session) -> dict[int, tuple[str, ...]]:
    rows = s.execute(select(Assignment.user_id, Patient.pseudonym)
                     .join(Patient, Patient.id == Assignment.patient_id).order_by(Patient.pseudonym))
    out: dict[int, list[str]] = {}
    for user_id, pseudonym in rows:
        out.setdefault(user_id, []).append(pseudonym)
    return {k: tuple(v) for k, v in out.items()}


def _info(user: User, caseload: tuple[str, ...]) -> UserInfo:
    return UserInfo(login=user.login, role=user.role,
                    patient=user.patient.pseudonym if user.patient is not None else None,
                    disabled=bool(user.disabled), caseload=caseload, oidc=user.oidc_subject is not None,
                    created_at=user.created_at, password=user.password_hash is not None)


def new_password() -> str:
    """A fresh random password: 20 characters in 4 groups (about 99 bits), e.g.
    ``k7m2q-x9fhd-3tn8w-pc4ra``, for an account made on the command line."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(5)) for _ in range(4))
    return "-".join(groups)


# --- the admin's accounts -------------------------------------------------------------------------


def add_user(store: Store, login: str, role: str, *, actor: Actor, patient: str | None = None,
             password: str | None = None, oidc_subject: str | None = None) -> UserInfo:
    """Add an account (admin).

    Parameters
    ----------
    login : str
        3-200 characters, no spaces or control characters; unique.
    role : str
        One of :data:`analyzer.vocab.ROLES`.
    patient : str, optional
        The pseudonym a patient account belongs to (required for, and only for, role patient;
        the patient must exist and have no account yet).
    password : str, optional
        A built-in password (see :func:`new_password` to make one).
    oidc_subject : str, optional
        The identity provider's subject (``sub``) of the person; at least one of ``password``
        and ``oidc_subject`` is needed.

    Raises
    ------
    PermissionDenied
        ``actor`` may not manage users.
    AccountError, StoreError
        A bad login, role, password or patient, a login or subject taken; no such patient.
    """
    check(store, actor, "users.manage")
    _check_login(login)
    if role not in ROLES:
        raise AccountError(f"role {role!r}", "unknown role", f"use one of {', '.join(ROLES)}")
    if role == "patient" and not patient:
        raise AccountError(f"account {login!r}", "a patient account needs its patient",
                           "name the patient's pseudonym (--patient P0012)")
    if role != "patient" and patient:
        raise AccountError(f"account {login!r}", f"a {role} account is not tied to a patient",
                           "leave out the patient, or use role patient")
    if password is None and not oidc_subject:
        raise AccountError(f"account {login!r}", "no way to sign in was given",
                           "give a password (the command line makes one when none is given) "
                           "or the identity provider's subject")
    if password is not None:
        _check_password(password, login)
    if oidc_subject is not None and not (isinstance(oidc_subject, str) and 0 < len(oidc_subject) <= 300):
        raise AccountError(f"account {login!r}", "the identity provider's subject has 1-300 characters",
                           "copy the subject (sub) from the provider")
    hashed = _hash(password) if password is not None else None
    try:
        with store.sessions.begin() as s:
            if _user(s, login) is not None:
                raise _login_taken(login)
            if oidc_subject and s.scalar(select(User.id).where(User.oidc_subject == oidc_subject)):
                raise AccountError(f"account {login!r}", "another account has this subject (sub)",
                                   "check the subject, or see python -m analyzer users list")
            patient_row = None
            if patient:
                patient_row = require_patient(s, patient)
                if _has_account(s, patient_row.id):
                    raise AccountError(f"patient {patient!r}", "this patient already has an account",
                                       "see python -m analyzer users list")
            user = User(login=login, role=role, password_hash=hashed, oidc_subject=oidc_subject or None,
                        patient=patient_row, disabled=False, created_at=utc_now(),
                        password_changed_at=utc_now() if hashed else None, failed_logins=0)
            s.add(user)
            s.flush()
            audit.record(store, actor, "user.add", patient=patient, session=s,
                         detail={"login": login, "role": role, "oidc": oidc_subject is not None})
            return _info(user, ())
    except IntegrityError:  # another process added the same login or subject meanwhile
        raise _login_taken(login) from None


def _assignment(store: Store, login: str, patient: str, actor: Actor, assigned: bool) -> None:
    check(store, actor, "users.manage")
    with store.sessions.begin() as s:
        user = _require_user(s, login)
        if user.role != "practitioner":
            raise AccountError(f"account {login!r}", "only a practitioner has a caseload; "
                               f"this is a {user.role}", "name a practitioner's login")
        patient_row = require_patient(s, patient)
        row = s.scalar(select(Assignment).where(Assignment.user_id == user.id,
                                                Assignment.patient_id == patient_row.id))
        if assigned and row is None:
            s.add(Assignment(user_id=user.id, patient_id=patient_row.id))
        elif not assigned and row is not None:
            s.delete(row)
        else:
            return
        audit.record(store, actor, "user.assign", patient=patient, session=s,
                     detail={"login": login, "assigned": assigned})


def assign(store: Store, login: str, patient: str, *, actor: Actor) -> None:
    """Put ``patient`` in the practitioner ``login``'s caseload (admin; nothing when already there).
    Raises PermissionDenied, AccountError (no such account, not a practitioner) or StoreError."""
    _assignment(store, login, patient, actor, True)


def unassign(store: Store, login: str, patient: str, *, actor: Actor) -> None:
    """Take ``patient`` out of the practitioner ``login``'s caseload (admin; nothing when not in it).
    Raises PermissionDenied, AccountError (no such account, not a practitioner) or StoreError."""
    _assignment(store, login, patient, actor, False)


def list_users(store: Store, *, actor: Actor) -> list[UserInfo]:
    """Every account, by login (admin)."""
    check(store, actor, "users.manage")
    with store.sessions() as s:
        loads = _caseloads(s)
        return [_info(u, loads.get(u.id, ())) for u in s.scalars(select(User).order_by(User.login))]


def set_disabled(store: Store, login: str, disabled: bool, *, actor: Actor) -> None:
    """Disable (its sessions end, it cannot sign in) or enable again the account ``login`` (admin).
    Raises PermissionDenied, or AccountError (no such account, or the admin's own account)."""
    check(store, actor, "users.manage")
    at = utc_now()
    with store.sessions.begin() as s:
        user = _require_user(s, login)
        if disabled and actor.user_id is not None and user.id == actor.user_id:
            raise AccountError(f"account {login!r}", "you cannot disable your own account",
                               "ask another admin, or use the command line")
        user.disabled = bool(disabled)
        if disabled:
            s.execute(update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
                      .values(ended_at=at))
        else:
            user.failed_logins, user.locked_until = 0, None
        audit.record(store, actor, "user.disable", session=s,
                     detail={"login": login, "disabled": user.disabled})


# --- invites --------------------------------------------------------------------------------------


def _normal_code(code: str) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    plain = "".join(c for c in code.upper() if c not in " -\t")
    if len(plain) != INVITE_CODE_CHARS or any(c not in _CODE_ALPHABET for c in plain):
        return None
    return plain


def create_invite(store: Store, patient: str, *, actor: Actor, now: datetime | None = None) -> str:
    """A one-time code (``XXXX-XXXX-XXXX``) with which ``patient`` activates their account.

    A practitioner may invite the patients in their caseload, an admin anyone.  Only the code's
    SHA-256 is kept; it works once within :data:`INVITE_VALID_S` of ``now`` (naive UTC).

    Raises
    ------
    PermissionDenied
        ``actor`` may not invite this patient (whether or not the patient exists).
    StoreError
        No such patient.
    InviteError
        The patient has an account already.
    """
    check(store, actor, "patient.invite", patient)
    at = now or utc_now()
    plain = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(INVITE_CODE_CHARS))
    expires = at + timedelta(seconds=INVITE_VALID_S)
    with store.sessions.begin() as s:
        patient_row = require_patient(s, patient)
        if _has_account(s, patient_row.id):
            raise InviteError(f"patient {patient!r}", "this patient already has an account",
                              "they sign in with it; the clinic's admin can see it in the list of users")
        s.add(Invite(code_sha256=_sha256(plain), patient_id=patient_row.id, created_by=actor.login[:200],
                     created_at=at, expires_at=expires))
        audit.record(store, actor, "invite.create", patient=patient, session=s,
                     detail={"expires_at": expires.isoformat(timespec="seconds")})
    return "-".join(plain[i:i + 4] for i in range(0, INVITE_CODE_CHARS, 4))


def _invite_failed(store: Store, login: str, patient: str | None, reason: str, cause: str) -> InviteError:
    audit.record(store, login, "invite.use", patient=patient, outcome="failed", detail={"reason": reason})
    return InviteError("invite code", cause, "ask your practitioner for a new one")


def activate(store: Store, code: str, login: str, password: str, *, now: datetime | None = None) -> Actor:
    """Redeem an invite code: its patient gets a patient account with ``login`` and ``password``,
    signed in at once.

    Raises :class:`AccountError` for a bad login or password or a login taken (the code stays
    unused); :class:`InviteError` when the code is not valid, used or expired, or the patient has
    an account already (each audited ``invite.use`` failed).
    """
    _check_login(login)
    _check_password(password, login)
    at = now or utc_now()
    plain = _normal_code(code)
    failure = None
    with store.sessions() as s:
        invite = s.scalar(select(Invite).where(Invite.code_sha256 == _sha256(plain))) if plain else None
        pseudonym = s.get(Patient, invite.patient_id).pseudonym if invite is not None else None
        if invite is None:
            failure = ("unknown", "this invite code is not valid")
        elif invite.used_at is not None:
            failure = ("used", "this invite code has already been used")
        elif invite.expires_at <= at:
            failure = ("expired", "this invite code has expired")
        elif _has_account(s, invite.patient_id):
            failure = ("has_account", "this patient already has an account; sign in with it")
        elif _user(s, login) is not None:
            raise AccountError(f"login {login!r}", "this username is taken", "choose another")
        else:
            invite_id, patient_id = invite.id, invite.patient_id
    if failure is not None:
        raise _invite_failed(store, login, pseudonym, *failure)
    hashed = _hash(password)
    actor = None
    try:
        with store.sessions.begin() as s:
            taken = s.execute(update(Invite).where(Invite.id == invite_id, Invite.used_at.is_(None))
                              .values(used_at=at)).rowcount
            if taken == 1:
                user = User(login=login, role="patient", password_hash=hashed, patient_id=patient_id,
                            disabled=False, created_at=at, password_changed_at=at, failed_logins=0)
                s.add(user)
                s.flush()
                actor = Actor(login=login, role="patient", user_id=user.id, patient=pseudonym, via="password")
                audit.record(store, actor, "invite.use", patient=pseudonym, session=s)
                audit.record(store, actor, "signin", session=s, detail={"via": "invite"})
    except IntegrityError:
        raise AccountError(f"login {login!r}", "this username is taken", "choose another") from None
    if actor is None:  # redeemed by someone else meanwhile
        raise _invite_failed(store, login, pseudonym, "used", "this invite code has already been used")
    return actor


def authenticate(store: Store, login: str, password: str, *, now: datetime | None = None) -> Actor:
    """The account ``login`` when ``password`` is its password.

    Raises
    ------
    AuthError
        Unknown login, wrong password, disabled or locked account: one message for all (the
        reason is written to the audit log only).  A wrong password counts towards the lock.
    """
    at = now or utc_now()
    typed = str(login)[:200]
    malformed = not (isinstance(login, str) and isinstance(password, str)
                     and len(password) <= PASSWORD_MAX_CHARS)
    with store.sessions.begin() as s:
        user = None if malformed else _user(s, login.strip())
        stored = user.password_hash if user is not None else None
        matches = _verify(stored, "" if malformed else password)
        reason = None
        if user is None:
            reason = "malformed" if malformed else "unknown_login"
        elif stored is None:
            reason = "no_password"
        elif user.disabled:
            reason = "disabled"
        elif user.locked_until is not None and user.locked_until > at:
            reason = "locked"
        elif not matches:
            lock = _count_failure(s, user, at)
            detail: dict[str, object] = {"reason": "wrong_password", "failures": user.failed_logins}
            audit.record(store, typed, "signin", outcome="failed", session=s,
                         detail={**detail, "locked_s": lock} if lock else detail)
        else:
            actor = _actor_of(user, "password")
            if actor is None:
                reason = "no_patient"
            else:
                user.failed_logins, user.locked_until = 0, None
                if _HASHER.check_needs_rehash(stored):
                    user.password_hash = _hash(password)
                audit.record(store, actor, "signin", session=s, detail={"via": "password"})
                return actor
        if reason is not None:
            audit.record(store, typed, "signin", outcome="failed", detail={"reason": reason}, session=s)
    raise AuthError(*_SIGNIN_FAILED)


def change_password(store: Store, old: str, new: str, *, actor: Actor, keep_session: str | None = None
                    ) -> None:
    """Change the signed-in user's own password; their other sessions end.

    Parameters
    ----------
    old, new : str
        The current password and the new one (the rules of :data:`PASSWORD_MIN_CHARS`).
    keep_session : str, optional
        The token of the session making the change, which stays open (every other session of
        the user ends).

    Raises
    ------
    AccountError
        The command line or an account without a password, or a new password that breaks a rule.
    AuthError
        ``old`` is not the current password (counts towards the lock like a failed sign-in).
    """
    if actor.user_id is None:
        raise AccountError(actor.login, "the command line has no password",
                           "sign in to the dashboard with the account whose password is to change")
    _check_password(new, actor.login)
    if new == old:
        raise AccountError("password", "the new password is the current one", "choose a new one")
    hashed = _hash(new)
    at = utc_now()
    with store.sessions.begin() as s:
        user = s.get(User, actor.user_id)
        if user is None or user.disabled:
            raise AccountError(actor.login, "this account is disabled", "ask the clinic's admin")
        if user.password_hash is None:
            raise AccountError(actor.login, "this account has no password to change",
                               "it signs in through the clinic's identity provider")
        locked = user.locked_until is not None and user.locked_until > at
        if locked or not _verify(user.password_hash, old):
            if not locked:
                _count_failure(s, user, at)
            audit.record(store, actor, "password.change", outcome="failed", session=s,
                         detail={"reason": "locked" if locked else "wrong_password"})
            failed = True
        else:
            user.password_hash, user.password_changed_at = hashed, at
            user.failed_logins, user.locked_until = 0, None
            others = update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
            if keep_session:
                others = others.where(WebSession.token_sha256 != _sha256(keep_session))
            ended = s.execute(others.values(ended_at=at)).rowcount
            audit.record(store, actor, "password.change", session=s, detail={"sessions_ended": ended})
            failed = False
    if failed:
        raise AuthError("password", "the current password is wrong, or the account is locked for a while",
                        "type the current password again, or try again in a few minutes")


# --- sessions -------------------------------------------------------------------------------------


def start_session(store: Store, actor: Actor, *, now: datetime | None = None) -> str:
    """A new dashboard session for a signed-in account: its random token (256 bits, URL-safe text)
    for the browser; the store keeps only the token's SHA-256."""
    if actor.user_id is None:
        raise AccountError(actor.login, "only an account in the store has dashboard sessions",
                           "sign in with a username and password")
    at = now or utc_now()
    token = secrets.token_urlsafe(32)
    with store.sessions.begin() as s:
        s.add(WebSession(token_sha256=_sha256(token), user_id=actor.user_id, created_at=at, last_seen_at=at,
                         expires_at=at + timedelta(seconds=SESSION_MAX_S)))
    return token


def resume_session(store: Store, token: str | None, *, now: datetime | None = None) -> Actor | None:
    """The signed-in user of the session with ``token``, its idle time restarted; None when there
    is no such session or it has ended (idle for :data:`IDLE_TIMEOUT_S`, older than
    :data:`SESSION_MAX_S`, signed out, password changed, account disabled)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        return None
    at = now or utc_now()
    with store.sessions.begin() as s:
        row = s.scalar(select(WebSession).where(WebSession.token_sha256 == _sha256(token)))
        if row is None or row.ended_at is not None:
            return None
        user = s.get(User, row.user_id)
        actor = _actor_of(user, "password") if user is not None and not user.disabled else None
        idle = (at - row.last_seen_at).total_seconds() > IDLE_TIMEOUT_S
        if actor is None or idle or at >= row.expires_at:
            row.ended_at = at
            return None
        if (at - row.last_seen_at).total_seconds() >= SESSION_TOUCH_S:
            row.last_seen_at = at
        return actor


def end_session(store: Store, token: str | None) -> None:
    """Sign out: the session with ``token`` ends (nothing when there is none)."""
    if not isinstance(token, str) or not token:
        return
    at = utc_now()
    with store.sessions.begin() as s:
        row = s.scalar(select(WebSession).where(WebSession.token_sha256 == _sha256(token)))
        if row is None or row.ended_at is not None:
            return
        row.ended_at = at
        user = s.get(User, row.user_id)
        actor = _actor_of(user, "password") if user is not None else None
        audit.record(store, actor if actor is not None else f"user#{row.user_id}", "signout", session=s)


def oidc_actor(store: Store, subject: str, email: str | None = None, *, email_verified: bool = False) -> Actor:
    """The account of a person the clinic's identity provider signed in: the one with this
    ``subject``, else, only when the provider says it verified the address
    (``email_verified``), the one whose login is ``email`` (which then keeps the subject, unless
    it has another one already).  An unverified address never links an account: anyone can
    type any address into some providers' profiles.

    Raises :class:`AuthError` when there is no such account or it is disabled (audited).
    """
    typed = str(email or subject)[:200]
    reason = None
    with store.sessions.begin() as s:
        user = s.scalar(select(User).where(User.oidc_subject == subject)) if subject else None
        linked = False
        if user is None and email and email_verified is True:
            user = s.scalar(select(User).where(func.lower(User.login) == email.lower()))
            if user is not None and user.oidc_subject is not None:
                user = None  # bound to another identity: an e-mail alone does not take it over
            linked = user is not None and bool(subject)
        if user is None:
            reason = "unknown_identity"
        elif user.disabled:
            reason = "disabled"
        else:
            actor = _actor_of(user, "oidc")
            if actor is None:
                reason = "no_patient"
            else:
                if linked:
                    user.oidc_subject = subject
                audit.record(store, actor, "signin", session=s, detail={"via": "oidc", "linked": linked})
                return actor
    audit.record(store, typed, "signin", outcome="failed", detail={"via": "oidc", "reason": reason})
    raise AuthError(*_OIDC_UNKNOWN)
