"""Account page: who is signed in, and the password change (built-in accounts).

Streamlit script (run by ``serve/app.py``).  A changed password ends the account's other sessions
(:func:`analyzer.service.users.change_password`); this one stays open.
"""

from __future__ import annotations

import streamlit as st

from analyzer.errors import plain_message
from analyzer.service.users import change_password
from analyzer.ui import state
from analyzer.ui.forms import new_password_inputs, typed_twice
from analyzer.ui.services.common import md_text


def page() -> None:
    st.title("Account")
    actor = state.actor()
    store = state.store()
    st.markdown(f"Signed in as **{md_text(actor.login)}** ({actor.role})"
                + (f", the account of patient {md_text(actor.patient)}" if actor.patient else "") + ".")
    if actor.via == "oidc":
        st.info("You sign in with your clinic account: its password is changed with your clinic, not here.")
        return
    with st.form("password", clear_on_submit=True):
        st.subheader("Change your password")
        old = st.text_input("Current password", type="password", key="pw-old",
                            autocomplete="current-password")
        new, again = new_password_inputs("New password", "New password again", "pw-new", "pw-again")
        if st.form_submit_button("Change password"):
            if typed_twice(new, again):
                try:
                    change_password(store, old, new, actor=actor,
                                    keep_session=st.session_state.get("session_token"))
                except Exception as e:  # noqa: BLE001 - wrong password, a rule broken: a sentence
                    st.error(md_text(plain_message(e)))
                else:
                    st.success("Password changed. Your other sessions have ended.")


page()
