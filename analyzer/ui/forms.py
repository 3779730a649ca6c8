"""Forms more than one page shows, each written once (Streamlit widgets; pages call them)."""

from __future__ import annotations

import streamlit as st

from analyzer.errors import plain_message
from analyzer.service.access import Actor
from analyzer.service.users import PASSWORD_MIN_CHARS
from analyzer.store.db import Store
from analyzer.ui.services.common import md_text
from analyzer.ui.services.patient import create_patient

__all__ = ["new_patient_form"]


def new_patient_form(store: Store, actor: Actor) -> str | None:
    """The "New patient" form (pseudonym and optional name), inside the caller's container;
    returns the new patient's pseudonym on the run it was created, else None.  The use case
    checks that ``actor`` may create patients (a practitioner's new patient joins their
    caseload) and refuses a taken, name-like or date-like pseudonym."""
    with st.form("new-patient", clear_on_submit=True):
        pseudo = st.text_input("Pseudonym (letters, digits, - _ .; not a name or a date)", placeholder="P0042")
        display = st.text_input("Name (optional, only the practitioner sees it)")
        if not st.form_submit_button("Create"):
            return None
        try:
            create_patient(store, pseudo, display, actor=actor)
        except Exception as e:  # noqa: BLE001 - shown in plain words
            st.error(md_text(plain_message(e)))
            return None
        return pseudo.strip()


def new_password_inputs(label: str, again_label: str, key: str, again_key: str) -> tuple[str, str]:
    """Inside a form: a new password (with the length rule as its help) and the same again,
    both marked as new passwords for the browser's password manager."""
    new = st.text_input(label, type="password", key=key, autocomplete="new-password",
                        help=f"At least {PASSWORD_MIN_CHARS} characters.")
    again = st.text_input(again_label, type="password", key=again_key, autocomplete="new-password")
    return new, again


def typed_twice(new: str, again: str) -> bool:
    """True when the two typings of a new password agree; else says so and returns False."""
    if new != again:
        st.error("The two passwords differ. Type the same password twice.")
        return False
    return True

