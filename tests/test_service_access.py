"""The role policy (analyzer.service.access) and the audit log (analyzer.service.audit): who may
do what to whose record, refusals audited, the log append-only in the database itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from analyzer.service.access import ACTIONS, Actor, PermissionDenied, check, may, reach
from analyzer.service.audit import VIEW_COALESCE_S, events, record
from analyzer.store.db import open_store
from analyzer.store.models import Assignment, AuditEvent, Patient, User
from analyzer.store.records import get_or_create_patient, now
from analyzer.vocab import ROLES


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "a.db") as s:
        with s.sessions.begin() as ses:
            a, b = get_or_create_patient(ses, "PA"), get_or_create_patient(ses, "PB")
            doc = User(login="doc", role="practitioner", created_at=now(), disabled=False, failed_logins=0)
            ses.add(doc)
            ses.flush()
            ses.add(Assignment(user_id=doc.id, patient_id=a.id))
            assert b.id
        yield s


def doc_actor(store) -> Actor:
    with store.sessions() as s:
        return Actor("doc", "practitioner", user_id=s.scalar(select(User.id).where(User.login == "doc")))


def test_every_action_names_known_roles_only():
    assert ACTIONS and all(roles <= set(ROLES) for roles, _ in ACTIONS.values())
    with pytest.raises(ValueError, match="unknown action 'record.eat'"):
        may(None, Actor.operator(), "record.eat")


def test_actor_rejects_unknown_role_and_patient_without_record():
    with pytest.raises(ValueError, match="unknown role 'nurse'"):
        Actor("x", "nurse")
    with pytest.raises(ValueError, match="tied to a patient"):
        Actor("x", "patient")


def test_reach_of_each_role(store):
    assert reach(store, Actor.operator()) is None
    assert reach(store, Actor("pa", "patient", patient="PA")) == {"PA"}
    assert reach(store, doc_actor(store)) == {"PA"}
    assert reach(store, Actor("r", "researcher")) == frozenset()


@pytest.mark.parametrize(("actor", "action", "patient", "allowed"), [
    (Actor("pa", "patient", patient="PA"), "record.view", "PA", True),
    (Actor("pa", "patient", patient="PA"), "record.view", "PB", False),
    (Actor("pa", "patient", patient="PA"), "record.view", None, False),
    (Actor("pa", "patient", patient="PA"), "triage.view", None, False),
    (Actor("pa", "patient", patient="PA"), "consent.change", "PA", True),
    (Actor("r", "researcher"), "record.view", "PA", False),
    (Actor("r", "researcher"), "export.deidentified", None, True),
    (Actor("r", "researcher"), "export.identified", None, False),
    (Actor.operator(), "export.identified", None, True),
    (Actor.operator(), "patient.delete", "PB", True),
    (Actor("pa", "patient", patient="PA"), "patient.delete", "PA", False),
])
def test_policy(store, actor, action, patient, allowed):
    assert may(store, actor, action, patient) is allowed


def test_practitioner_reaches_only_the_caseload(store):
    doc = doc_actor(store)
    assert may(store, doc, "record.view", "PA") and may(store, doc, "report.view", "PA")
    assert not may(store, doc, "record.view", "PB")
    assert not may(store, doc, "patient.delete", "PA")
    assert not may(store, doc, "export.deidentified")


def test_refusal_raises_without_saying_whether_the_patient_exists_and_is_audited(store):
    pa = Actor("pa", "patient", patient="PA")
    messages = []
    for other in ("PB", "NOBODY"):
        with pytest.raises(PermissionDenied) as e:
            check(store, pa, "record.view", other)
        messages.append(e.value.cause + e.value.fix)
    assert messages[0] == messages[1]
    rows = events(store, Actor.operator(), outcome="denied")
    assert [(r.actor, r.role, r.action, r.patient) for r in rows] == [
        ("pa", "patient", "record.view", "NOBODY"), ("pa", "patient", "record.view", "PB")]


def test_audit_log_is_admin_only(store):
    with pytest.raises(PermissionDenied):
        events(store, doc_actor(store))


def test_views_coalesce_changes_do_not(store):
    op = Actor.operator()
    for _ in range(3):
        record(store, op, "record.view", patient="PA")
        record(store, op, "record.change", patient="PA", detail={"what": "diary"})
    rows = events(store, op, patient="PA")
    assert sorted(r.action for r in rows) == ["record.change"] * 3 + ["record.view"]
    # a view older than the window is written again
    with store.sessions.begin() as s:
        s.add(AuditEvent(at=now() - timedelta(seconds=VIEW_COALESCE_S + 5), actor="old", role="admin",
                         action="record.view", patient="PB", outcome="ok"))
    record(store, Actor("old", "admin"), "record.view", patient="PB")
    assert len(events(store, op, who="old")) == 2


def test_failed_signin_keeps_the_typed_login_as_text(store):
    record(store, "<img src=x>" * 40, "signin", outcome="failed")
    (row,) = events(store, Actor.operator(), action="signin")
    assert row.actor == ("<img src=x>" * 40)[:200] and row.role is None and row.outcome == "failed"
    with pytest.raises(ValueError, match="unknown outcome 'maybe'"):
        record(store, "x", "signin", outcome="maybe")


def test_the_database_refuses_to_change_or_delete_audit_rows(store):
    record(store, Actor.operator(), "patient.create", patient="PA")
    for sql in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.exec_driver_sql(sql)
    assert len(events(store, Actor.operator())) == 1


def test_deleting_a_patient_keeps_their_audit_lines(store):
    record(store, Actor.operator(), "record.view", patient="PB")
    with store.sessions.begin() as s:
        s.delete(s.scalar(select(Patient).where(Patient.pseudonym == "PB")))
    assert [r.patient for r in events(store, Actor.operator())] == ["PB"]
