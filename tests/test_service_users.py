"""Accounts (analyzer.service.users): hashing, throttling, sessions, invites, OIDC mapping and the
admin's account management, each with the wrong user refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from analyzer.service import users
from analyzer.service.access import Actor, PermissionDenied, reach
from analyzer.service.audit import events
from analyzer.store.db import StoreError, open_store
from analyzer.store.models import Invite, User, WebSession
from analyzer.store.records import get_or_create_patient, now

ADMIN = Actor.operator()
PW = "correct horse battery"
SIGNIN_FAILED = ("sign-in: wrong username or password, or the account is locked for a while. "
                 "try again in a few minutes, or ask the clinic's admin")


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "analyzer.db") as s:
        yield s


@pytest.fixture
def real_hasher():
    """Keep the module's own argon2id parameters (RFC 9106 low memory) for this test."""


@pytest.fixture(autouse=True)
def _cheap_hashes(request, monkeypatch):
    # the real parameters cost about 0.1 s a hash; tests that count attempts use cheap ones
    if "real_hasher" not in request.fixturenames:
        monkeypatch.setattr(users, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _patients(store, *pseudonyms):
    with store.sessions.begin() as s:
        for p in pseudonyms:
            get_or_create_patient(s, p)


def _user_row(store, login):
    with store.sessions() as s:
        return s.scalar(select(User).where(User.login == login))


def _signins(store, outcome):
    return [e for e in events(store, ADMIN, action="signin", outcome=outcome)]


def _fail(store, login, password, when):
    with pytest.raises(users.AuthError) as e:
        users.authenticate(store, login, password, now=when)
    assert e.value.message == SIGNIN_FAILED
    return e.value


# --- passwords and sign-in --------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_only(store, real_hasher):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    row = _user_row(store, "dr.who")
    assert row.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PW not in row.password_hash
    assert PasswordHasher().verify(row.password_hash, PW)
    actor = users.authenticate(store, "dr.who", PW)
    assert (actor.login, actor.role, actor.user_id, actor.patient, actor.via) == \
        ("dr.who", "practitioner", row.id, None, "password")


def test_every_failed_signin_has_the_same_message_and_is_audited(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    users.add_user(store, "old.doc", "practitioner", actor=ADMIN, password=PW)
    users.set_disabled(store, "old.doc", True, actor=ADMIN)
    users.add_user(store, "sso.only", "researcher", actor=ADMIN, oidc_subject="sub-1")
    t = now()
    messages = {str(_fail(store, "dr.who", "wrong password!", t)),
                str(_fail(store, "nobody", PW, t)),
                str(_fail(store, "old.doc", PW, t)),
                str(_fail(store, "sso.only", PW, t))}
    assert messages == {SIGNIN_FAILED}
    failed = _signins(store, "failed")
    assert sorted((e.actor, e.detail["reason"]) for e in failed) == [
        ("dr.who", "wrong_password"), ("nobody", "unknown_login"), ("old.doc", "disabled"),
        ("sso.only", "no_password")]
    assert all(e.role is None for e in failed)
    users.authenticate(store, "dr.who", PW)
    ok = _signins(store, "ok")
    assert [(e.actor, e.role, e.detail["via"]) for e in ok] == [("dr.who", "practitioner", "password")]


def test_unknown_login_still_verifies_a_hash(store, monkeypatch, real_hasher):
    real = users._HASHER
    assert not real.check_needs_rehash(users._DUMMY_HASH)  # the dummy costs what a real hash costs
    verified = []

    class Spy:
        def verify(self, stored, password):
            verified.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(users, "_HASHER", Spy())
    _fail(store, "nobody", PW, now())
    assert verified == [users._DUMMY_HASH]


def test_five_wrong_passwords_lock_the_account_until_lockout_ends(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    t0 = now()
    for i in range(users.MAX_FAILED_LOGINS):
        _fail(store, "dr.who", f"wrong password {i}", t0 + timedelta(seconds=i))
    row = _user_row(store, "dr.who")
    assert row.failed_logins == 5
    locked_at = t0 + timedelta(seconds=4)
    assert row.locked_until == locked_at + timedelta(seconds=users.LOCKOUT_S)
    # locked: even the right password is refused, with the same message, and not counted
    _fail(store, "dr.who", PW, locked_at + timedelta(seconds=users.LOCKOUT_S - 1))
    assert _user_row(store, "dr.who").failed_logins == 5
    assert _signins(store, "failed")[0].detail == {"reason": "locked"}
    actor = users.authenticate(store, "dr.who", PW, now=locked_at + timedelta(seconds=users.LOCKOUT_S))
    assert actor.login == "dr.who"
    row = _user_row(store, "dr.who")
    assert (row.failed_logins, row.locked_until) == (0, None)


def test_a_wrong_password_after_a_lock_locks_again_for_twice_as_long(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    t0 = now()
    for _ in range(users.MAX_FAILED_LOGINS):
        _fail(store, "dr.who", "wrong password", t0)
    t1 = t0 + timedelta(seconds=users.LOCKOUT_S)
    _fail(store, "dr.who", "wrong again, sorry", t1)
    assert _user_row(store, "dr.who").locked_until == t1 + timedelta(seconds=2 * users.LOCKOUT_S)
    assert _signins(store, "failed")[0].detail == {"reason": "wrong_password", "failures": 6,
                                                   "locked_s": 2 * users.LOCKOUT_S}


def test_a_success_resets_the_count(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    t = now()
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        _fail(store, "dr.who", "wrong password", t)
    users.authenticate(store, "dr.who", PW, now=t)
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        _fail(store, "dr.who", "wrong password", t)
    assert _user_row(store, "dr.who").locked_until is None
    assert users.authenticate(store, "dr.who", PW, now=t).login == "dr.who"


def test_an_old_hash_is_replaced_at_the_next_signin(store, real_hasher):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PW)
    with store.sessions.begin() as s:
        s.scalar(select(User).where(User.login == "dr.who")).password_hash = weak
    users.authenticate(store, "dr.who", PW)
    stored = _user_row(store, "dr.who").password_hash
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize(("password", "cause"), [
    ("short", "a password needs at least 10 characters. choose a longer one, e.g. a few unrelated words"),
    ("Dr.Who.Clinic", "the password may not be the username. choose another"),
    ("x" * 1025, "a password has at most 1024 characters. choose a shorter one"),
])
def test_weak_passwords_are_refused(store, password, cause):
    with pytest.raises(users.AccountError) as e:
        users.add_user(store, "dr.who.clinic", "practitioner", actor=ADMIN, password=password)
    assert e.value.message == f"password: {cause}"
    assert _user_row(store, "dr.who.clinic") is None


def test_change_password_ends_the_other_sessions(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    actor = users.authenticate(store, "dr.who", PW)
    here, elsewhere = users.start_session(store, actor), users.start_session(store, actor)
    with pytest.raises(users.AuthError) as e:
        users.change_password(store, "not the password", "a brand new secret", actor=actor, keep_session=here)
    assert e.value.message == ("password: the current password is wrong, or the account is locked for a "
                               "while. type the current password again, or try again in a few minutes")
    assert users.resume_session(store, elsewhere) is not None
    with pytest.raises(users.AccountError, match="the new password is the current one"):
        users.change_password(store, PW, PW, actor=actor, keep_session=here)
    users.change_password(store, PW, "a brand new secret", actor=actor, keep_session=here)
    assert users.resume_session(store, here) == actor
    assert users.resume_session(store, elsewhere) is None
    _fail(store, "dr.who", PW, now())
    assert users.authenticate(store, "dr.who", "a brand new secret").login == "dr.who"
    changes = events(store, ADMIN, action="password.change")
    assert [(c.outcome, c.detail) for c in changes] == [("ok", {"sessions_ended": 1}),
                                                      ("failed", {"reason": "wrong_password"})]


def test_the_command_line_has_no_password_to_change(store):
    with pytest.raises(users.AccountError, match="the command line has no password"):
        users.change_password(store, PW, "a brand new secret", actor=ADMIN)


# --- sessions --------------------------------------------------------------------------------------


def test_a_session_resumes_idles_out_and_ends(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    actor = users.authenticate(store, "dr.who", PW)
    t0 = now()
    token = users.start_session(store, actor, now=t0)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with store.sessions() as s:
        stored = s.scalars(select(WebSession.token_sha256)).all()
    assert stored == [users._sha256(token)] and token not in stored
    # each use restarts the idle time
    t = t0
    for _ in range(3):
        t += timedelta(seconds=users.IDLE_TIMEOUT_S - 60)
        assert users.resume_session(store, token, now=t) == actor
    assert users.resume_session(store, token, now=t + timedelta(seconds=users.IDLE_TIMEOUT_S + 1)) is None
    assert users.resume_session(store, token, now=t + timedelta(seconds=1)) is None  # ended for good
    assert users.resume_session(store, "x" * 43) is None
    assert users.resume_session(store, None) is None

    token2 = users.start_session(store, actor)
    assert users.resume_session(store, token2) == actor
    users.end_session(store, token2)
    assert users.resume_session(store, token2) is None
    out = events(store, ADMIN, action="signout")
    assert [(e.actor, e.outcome) for e in out] == [("dr.who", "ok")]


def test_a_session_ends_at_its_maximum_age_and_when_the_account_is_disabled(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    actor = users.authenticate(store, "dr.who", PW)
    t0 = now()
    token = users.start_session(store, actor, now=t0)
    t = t0
    while t + timedelta(seconds=users.IDLE_TIMEOUT_S - 1) < t0 + timedelta(seconds=users.SESSION_MAX_S):
        t += timedelta(seconds=users.IDLE_TIMEOUT_S - 1)
        assert users.resume_session(store, token, now=t) == actor
    assert users.resume_session(store, token, now=t0 + timedelta(seconds=users.SESSION_MAX_S)) is None

    token = users.start_session(store, actor)
    users.set_disabled(store, "dr.who", True, actor=ADMIN)
    assert users.resume_session(store, token) is None
    users.set_disabled(store, "dr.who", False, actor=ADMIN)
    assert users.resume_session(store, token) is None  # enabling again does not revive it
    assert users.authenticate(store, "dr.who", PW).login == "dr.who"


# --- invites ---------------------------------------------------------------------------------------


def test_an_invite_works_once(store):
    _patients(store, "P0012")
    code = users.create_invite(store, "P0012", actor=ADMIN)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", code)
    with store.sessions() as s:
        kept = s.scalars(select(Invite.code_sha256)).all()
    assert kept == [users._sha256(code.replace("-", ""))]
    actor = users.activate(store, code.lower().replace("-", " "), "jane.d", "my own secret")
    assert (actor.login, actor.role, actor.patient, actor.via) == ("jane.d", "patient", "P0012", "password")
    assert users.authenticate(store, "jane.d", "my own secret") == actor
    with pytest.raises(users.InviteError) as e:
        users.activate(store, code, "jane.other", "another secret")
    assert e.value.message == ("invite code: this invite code has already been used. "
                               "ask your practitioner for a new one")
    assert _user_row(store, "jane.other") is None
    uses = events(store, ADMIN, action="invite.use")
    assert [(u.actor, u.outcome, u.patient, u.detail) for u in uses] == [
        ("jane.other", "failed", "P0012", {"reason": "used"}), ("jane.d", "ok", "P0012", None)]
    # the patient has an account now: no second invite
    with pytest.raises(users.InviteError, match="this patient already has an account"):
        users.create_invite(store, "P0012", actor=ADMIN)


def test_an_expired_or_unknown_invite_is_refused(store):
    _patients(store, "P0012")
    t0 = now()
    code = users.create_invite(store, "P0012", actor=ADMIN, now=t0)
    with pytest.raises(users.InviteError) as e:
        users.activate(store, code, "jane.d", "my own secret",
                       now=t0 + timedelta(seconds=users.INVITE_VALID_S))
    assert e.value.message == "invite code: this invite code has expired. ask your practitioner for a new one"
    for bad in ("AAAA-AAAA-AAAA", "not a code", ""):
        with pytest.raises(users.InviteError) as e:
            users.activate(store, bad, "jane.d", "my own secret", now=t0)
        assert e.value.message == ("invite code: this invite code is not valid. "
                                   "ask your practitioner for a new one")
    assert _user_row(store, "jane.d") is None
    # a bad password is refused before the code is spent
    with pytest.raises(users.AccountError, match="at least 10 characters"):
        users.activate(store, code, "jane.d", "short", now=t0)
    assert users.activate(store, code, "jane.d", "my own secret", now=t0).patient == "P0012"


def test_a_practitioner_invites_only_their_own_patients(store):
    _patients(store, "P0012", "P0013")
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    users.assign(store, "dr.who", "P0012", actor=ADMIN)
    doc = users.authenticate(store, "dr.who", PW)
    assert users.create_invite(store, "P0012", actor=doc)
    for other in ("P0013", "P9999"):  # another's patient, and one that does not exist: the same refusal
        with pytest.raises(PermissionDenied) as e:
            users.create_invite(store, other, actor=doc)
        assert e.value.message == (f"patient {other}: your account may not do this. "
                                   "sign in with an account that may, or ask the clinic's admin")
    denied = events(store, ADMIN, action="patient.invite", outcome="denied")
    assert sorted(d.patient for d in denied) == ["P0013", "P9999"]
    with pytest.raises(StoreError, match="no such patient in the store"):
        users.create_invite(store, "P9999", actor=ADMIN)


def test_patients_and_researchers_may_not_invite(store):
    _patients(store, "P0012")
    code = users.create_invite(store, "P0012", actor=ADMIN)
    jane = users.activate(store, code, "jane.d", "my own secret")
    for actor in (jane, Actor("res", "researcher", user_id=99)):
        with pytest.raises(PermissionDenied):
            users.create_invite(store, "P0012", actor=actor)


# --- the admin's accounts --------------------------------------------------------------------------


def test_only_an_admin_manages_accounts(store):
    _patients(store, "P0012")
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    doc = users.authenticate(store, "dr.who", PW)
    with pytest.raises(PermissionDenied) as e:
        users.add_user(store, "evil", "admin", actor=doc, password=PW)
    assert e.value.message == ("users.manage: your account may not do this. "
                               "sign in with an account that may, or ask the clinic's admin")
    assert _user_row(store, "evil") is None
    for call in (lambda: users.assign(store, "dr.who", "P0012", actor=doc),
                 lambda: users.list_users(store, actor=doc),
                 lambda: users.set_disabled(store, "dr.who", True, actor=doc)):
        with pytest.raises(PermissionDenied):
            call()
    assert reach(store, doc) == frozenset()
    assert [d.actor for d in events(store, ADMIN, action="users.manage", outcome="denied")] == ["dr.who"] * 4


def test_add_assign_list_and_audit(store):
    _patients(store, "P0012", "P0013")
    info = users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    assert (info.login, info.role, info.patient, info.caseload, info.disabled, info.oidc, info.password) == \
        ("dr.who", "practitioner", None, (), False, False, True)
    users.add_user(store, "jane.d", "patient", actor=ADMIN, patient="P0013", oidc_subject="sub-jane")
    users.assign(store, "dr.who", "P0013", actor=ADMIN)
    users.assign(store, "dr.who", "P0012", actor=ADMIN)
    users.assign(store, "dr.who", "P0012", actor=ADMIN)  # again: nothing changes, nothing logged
    listed = {u.login: u for u in users.list_users(store, actor=ADMIN)}
    assert listed["dr.who"].caseload == ("P0012", "P0013")
    jane = listed["jane.d"]
    assert (jane.patient, jane.oidc, jane.password) == ("P0013", True, False)
    doc = users.authenticate(store, "dr.who", PW)
    assert reach(store, doc) == {"P0012", "P0013"}
    users.unassign(store, "dr.who", "P0013", actor=ADMIN)
    assert reach(store, doc) == {"P0012"}
    log = [(e.action, e.patient, e.detail) for e in events(store, ADMIN, action="user.")]
    assert log == [
        ("user.assign", "P0013", {"login": "dr.who", "assigned": False}),
        ("user.assign", "P0012", {"login": "dr.who", "assigned": True}),
        ("user.assign", "P0013", {"login": "dr.who", "assigned": True}),
        ("user.add", "P0013", {"login": "jane.d", "role": "patient", "oidc": True}),
        ("user.add", None, {"login": "dr.who", "role": "practitioner", "oidc": False}),
    ]
    assert all(e.actor == ADMIN.login for e in events(store, ADMIN, action="user."))


@pytest.mark.parametrize(("args", "error", "message"), [
    (("dr.who", "practitioner"), users.AccountError,
     ("account 'dr.who': an account with this login already exists. "
     "choose another login, or see python -m analyzer users list")),
    (("jo", "practitioner"), users.AccountError,
     ("login 'jo': a login has 3-200 characters. "
     "choose another, e.g. a first name and an initial or an e-mail address")),
    (("jane doe", "practitioner"), users.AccountError,
     "login 'jane doe': a login has no spaces or control characters. choose one without them, e.g. jane.d"),
    (("boss", "owner"), users.AccountError, ("role 'owner': unknown role. use one of patient, practitioner, "
     "researcher, admin")),
    (("jane.d", "patient"), users.AccountError,
     "account 'jane.d': a patient account needs its patient. name the patient's pseudonym (--patient P0012)"),
    (("jane.d", "patient", "P9999"), StoreError,
     ("patient 'P9999': no such patient in the store. "
     "check the pseudonym, or import a photo for the patient first")),
    (("res.one", "researcher", "P0012"), users.AccountError,
     ("account 'res.one': a researcher account is not tied to a patient. "
     "leave out the patient, or use role patient")),
    (("jane.two", "patient", "P0012"), users.AccountError,
     "patient 'P0012': this patient already has an account. see python -m analyzer users list"),
])
def test_add_user_refuses_bad_input_exactly(store, args, error, message):
    _patients(store, "P0012")
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, password=PW)
    users.add_user(store, "jane.d1", "patient", actor=ADMIN, patient="P0012", password=PW)
    login, role, *patient = args
    with pytest.raises(error) as e:
        users.add_user(store, login, role, actor=ADMIN, patient=patient[0] if patient else None, password=PW)
    assert e.value.message == message


def test_add_user_needs_a_way_to_sign_in(store):
    with pytest.raises(users.AccountError) as e:
        users.add_user(store, "dr.who", "practitioner", actor=ADMIN)
    assert e.value.message == ("account 'dr.who': no way to sign in was given. give a password (the command "
                               "line makes one when none is given) or the identity provider's subject")


def test_only_a_practitioner_has_a_caseload(store):
    _patients(store, "P0012")
    users.add_user(store, "res.one", "researcher", actor=ADMIN, password=PW)
    with pytest.raises(users.AccountError) as e:
        users.assign(store, "res.one", "P0012", actor=ADMIN)
    assert e.value.message == ("account 'res.one': only a practitioner has a caseload; this is a researcher. "
                               "name a practitioner's login")
    with pytest.raises(users.AccountError, match="account 'ghost': no such account"):
        users.assign(store, "ghost", "P0012", actor=ADMIN)


def test_an_admin_cannot_disable_themselves(store):
    users.add_user(store, "boss", "admin", actor=ADMIN, password=PW)
    boss = users.authenticate(store, "boss", PW)
    with pytest.raises(users.AccountError, match="you cannot disable your own account"):
        users.set_disabled(store, "boss", True, actor=boss)
    assert _user_row(store, "boss").disabled is False


def test_new_passwords_are_random_and_long_enough():
    made = {users.new_password() for _ in range(50)}
    assert len(made) == 50
    assert all(re.fullmatch(r"([2-9a-hjkmnp-z]{5}-){3}[2-9a-hjkmnp-z]{5}", p) for p in made)


# --- the identity provider -------------------------------------------------------------------------


def test_oidc_maps_by_subject_then_by_email(store):
    users.add_user(store, "dr.who", "practitioner", actor=ADMIN, oidc_subject="sub-42")
    users.add_user(store, "res@clinic.example", "researcher", actor=ADMIN, password=PW)
    doc = users.oidc_actor(store, "sub-42", "someone@else.example")
    assert (doc.login, doc.role, doc.via) == ("dr.who", "practitioner", "oidc")
    with pytest.raises(users.AuthError):  # an address the provider did not verify links nothing
        users.oidc_actor(store, "sub-77", "Res@Clinic.example")
    assert _user_row(store, "res@clinic.example").oidc_subject is None
    res = users.oidc_actor(store, "sub-77", "Res@Clinic.example", email_verified=True)
    assert (res.login, res.role, res.via) == ("res@clinic.example", "researcher", "oidc")
    assert _user_row(store, "res@clinic.example").oidc_subject == "sub-77"  # kept for next time
    assert users.oidc_actor(store, "sub-77").login == "res@clinic.example"
    ok = events(store, ADMIN, action="signin", outcome="ok")
    assert [(e.actor, e.detail) for e in ok] == [
        ("res@clinic.example", {"via": "oidc", "linked": False}),
        ("res@clinic.example", {"via": "oidc", "linked": True}),
        ("dr.who", {"via": "oidc", "linked": False})]


def test_oidc_refuses_unknown_disabled_and_taken_identities(store):
    users.add_user(store, "dr.who@clinic.example", "practitioner", actor=ADMIN, oidc_subject="sub-42")
    users.add_user(store, "old.doc", "practitioner", actor=ADMIN, oidc_subject="sub-43")
    users.set_disabled(store, "old.doc", True, actor=ADMIN)
    message = ("sign-in: this sign-in is not set up for the skin recovery dashboard. "
               "ask the clinic's admin to add your account")
    # an unknown person; a disabled account; an e-mail whose account belongs to another subject
    for subject, email in (("sub-1", "x@y.example"), ("sub-43", None), ("sub-99", "dr.who@clinic.example")):
        with pytest.raises(users.AuthError) as e:
            users.oidc_actor(store, subject, email, email_verified=True)
        assert e.value.message == message
    assert _user_row(store, "dr.who@clinic.example").oidc_subject == "sub-42"
    failed = events(store, ADMIN, action="signin", outcome="failed")
    assert [e.detail["reason"] for e in failed] == ["unknown_identity", "disabled", "unknown_identity"]


def test_the_case_of_a_login_and_spaces_around_it_do_not_matter(store):
    users.add_user(store, "jane.d", "researcher", actor=ADMIN, password=PW)
    assert users.authenticate(store, " Jane.D ", PW).login == "jane.d"
    with pytest.raises(users.AccountError, match="an account with this login already exists"):
        users.add_user(store, "JANE.D", "researcher", actor=ADMIN, password=PW)
    with pytest.raises(users.AuthError):
        users.authenticate(store, "Jane.D", PW.upper())  # the password's case does matter
