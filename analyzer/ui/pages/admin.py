"""Admin page: accounts and caseloads, invites, the audit log with filters, the export register,
deletion of a photo or a patient, the orphan-file sweep, and the store's connection details.

Streamlit script (run by ``serve/app.py``; only an admin's navigation has it, and every use case
behind it checks ``users.manage``, ``audit.view``, ``patient.delete`` or ``store.details``
again).  User text (logins, pseudonyms, file names) is shown in tables or escaped, never as
Markdown.
"""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from analyzer.errors import plain_message
from analyzer.service.access import Actor
from analyzer.service.users import assign, create_invite, set_disabled, unassign
from analyzer.store.db import Store
from analyzer.ui import state
from analyzer.ui.services.admin import (
    add_account,
    audit_table,
    delete_patient_confirmed,
    delete_photo_of,
    register_table,
    store_details,
    sweep,
    users_table,
)
from analyzer.ui.services.common import md_text, visible
from analyzer.vocab import AUDIT_OUTCOMES, ROLES


def _run(what, done: str | None = None) -> object:
    """``what()`` with its error shown in plain words; ``done`` shown on success."""
    try:
        out = what()
    except Exception as e:  # noqa: BLE001 - every refusal and bad input is a sentence
        st.error(md_text(plain_message(e)))
        return None
    if done:
        st.success(done)
    return out


def accounts(store: Store, actor: Actor) -> None:
    """The accounts, a new account with its generated password shown once, caseloads, disabling."""
    table = _run(lambda: users_table(store, actor=actor))
    if table is None:
        return
    st.dataframe(table, hide_index=True, width="stretch", key="users-table")
    logins = list(table["login"])
    pseudonyms = [p.pseudonym for p in visible(store, actor=actor)]
    c = st.columns(3)
    with c[0], st.form("add-user", clear_on_submit=True):
        st.markdown("**Add an account**")
        login = st.text_input("Login", key="add-login")
        role = st.selectbox("Role", ROLES, key="add-role")
        patient = st.text_input("Patient (a patient's account only)", key="add-patient")
        oidc = st.text_input("Clinic account subject (optional: signs in through the identity provider)",
                             key="add-oidc")
        if st.form_submit_button("Add account"):
            out = _run(lambda: add_account(store, login, role, actor=actor, patient=patient,
                                           oidc_subject=oidc))
            if out is not None:
                info, password = out
                st.success(f"Account {md_text(info.login)} added.")
                if password:
                    st.caption("Its password, shown only now: give it to its owner, who changes it on the "
                               "Account page.")
                    st.code(password, language=None)
    with c[1], st.form("assign"):
        st.markdown("**Caseload**")
        who = st.selectbox("Practitioner", [x for x, r in zip(logins, table["role"]) if r == "practitioner"],
                           key="assign-login")
        patient = st.selectbox("Patient", pseudonyms, key="assign-patient")
        a, b = st.columns(2)
        if a.form_submit_button("Assign") and who and patient:
            _run(lambda: assign(store, who, patient, actor=actor),
                 f"{md_text(patient)} assigned to {md_text(who)}.")
        if b.form_submit_button("Unassign") and who and patient:
            _run(lambda: unassign(store, who, patient, actor=actor),
                 f"{md_text(patient)} is no longer assigned to {md_text(who)}.")
    with c[2], st.form("disable"):
        st.markdown("**Disable or enable**")
        who = st.selectbox("Account", logins, key="disable-login")
        a, b = st.columns(2)
        if a.form_submit_button("Disable") and who:
            _run(lambda: set_disabled(store, who, True, actor=actor),
                 f"{md_text(who)} is disabled: its sessions have ended.")
        if b.form_submit_button("Enable") and who:
            _run(lambda: set_disabled(store, who, False, actor=actor), f"{md_text(who)} is enabled.")
    with st.form("admin-invite"):
        st.markdown("**Invite a patient** (a one-time code with which they choose their username and "
                    "password)")
        patient = st.selectbox("Patient", pseudonyms, key="admin-invite-patient")
        if st.form_submit_button("Make an invite code") and patient:
            code = _run(lambda: create_invite(store, patient, actor=actor))
            if code:
                st.caption(f"Invite code for {md_text(patient)}, shown only now:")
                st.code(code, language=None)


def audit_log(store: Store, actor: Actor) -> None:
    """The audit log, newest first, with filters."""
    c = st.columns(6)
    who = c[0].text_input("Who", key="audit-who")
    action = c[1].text_input("Action", key="audit-action")
    patient = c[2].text_input("Patient", key="audit-patient")
    outcome = c[3].selectbox("Outcome", ("", *AUDIT_OUTCOMES), key="audit-outcome",
                             format_func=lambda o: o or "any")
    since = c[4].date_input("From", value=date.today() - timedelta(days=30), key="audit-since")
    until = c[5].date_input("To", value=date.today(), key="audit-until")
    table = _run(lambda: audit_table(store, actor=actor, who=who, action=action, patient=patient,
                                     outcome=outcome, since=since, until=until))
    if table is not None:
        st.caption(f"{len(table)} event(s), newest first (times in UTC; at most 1000 shown).")
        st.dataframe(table, hide_index=True, width="stretch", key="audit-table")


def deletion(store: Store, actor: Actor) -> None:
    """Delete a photo or a whole patient, and sweep the files no record refers to."""
    left, mid, right = st.columns(3)
    with left, st.form("delete-patient", clear_on_submit=True):
        st.markdown("**Delete a patient** with every photo, treatment, diary entry and consent")
        patient = st.selectbox("Patient", [p.pseudonym for p in visible(store, actor=actor)],
                               key="delete-patient")
        typed = st.text_input("Type the pseudonym again to confirm", key="delete-confirm")
        if st.form_submit_button("Delete the patient", type="primary") and patient:
            out = _run(lambda: delete_patient_confirmed(store, patient, typed, actor=actor))
            if out is not None:
                state.forget_patient(patient)
                st.success(f"Patient {md_text(patient)} deleted: {out.photos} photo(s), "
                           f"{len(out.files)} file(s).")
    with mid, st.form("delete-photo", clear_on_submit=True):
        st.markdown("**Delete one photo**")
        sha = st.text_input("The photo's SHA-256", key="delete-sha")
        of = st.text_input("Of patient (optional)", key="delete-photo-patient")
        if st.form_submit_button("Delete the photo"):
            out = _run(lambda: delete_photo_of(store, sha, actor=actor, pseudonym=of))
            if out is not None:
                st.success(f"{out.photos} photo(s) and {len(out.files)} file(s) deleted.")
    with right:
        st.markdown("**Files no record refers to**")
        st.caption("Left behind by an interrupted import or deletion; files younger than an hour are kept.")
        if st.button("Sweep orphan files", key="sweep"):
            out = _run(lambda: sweep(store, actor=actor))
            if out is not None:
                st.success(f"{len(out)} file(s) removed.")


def page() -> None:
    st.title("Admin")
    actor = state.actor()
    store = state.store()
    tabs = st.tabs(["Accounts", "Audit log", "Export register", "Deletion", "Store"], key="admin-tab",
                   on_change="rerun")
    sections = (lambda: accounts(store, actor), lambda: audit_log(store, actor),
                lambda: _register(store, actor), lambda: deletion(store, actor), lambda: _store(store, actor))
    for tab, show in zip(tabs, sections, strict=True):
        with tab:
            if tab.open:
                show()


def _register(store: Store, actor: Actor) -> None:
    table = _run(lambda: register_table(store, actor=actor))
    if table is not None:
        st.caption("Every export: who, when, which patients, which filters. When a patient withdraws "
                   "research consent, tell whoever already received their data.")
        if table.empty:
            st.info("No export yet.")
        else:
            st.dataframe(table, hide_index=True, width="stretch", key="register-table")


def _store(store: Store, actor: Actor) -> None:
    details = _run(lambda: store_details(store, actor=actor))
    if details is not None:
        st.dataframe({"": list(details), "value": list(details.values())}, hide_index=True, key="store-table")


page()
