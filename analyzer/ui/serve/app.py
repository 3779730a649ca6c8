"""The dashboard: the sign-in gate, then the pages the signed-in user's role may open
(``skin-analyzer dashboard``, which has Streamlit run this file).

Pages live in ``analyzer/ui/pages``; they call ``analyzer/ui/services``; nothing below ``analyzer/ui/services`` imports
Streamlit.  Who is signed in: :mod:`analyzer.ui.auth`.  Only the pages a role may use are registered with
``st.navigation``, so the address of another page shows the role's first page instead; each
page's use cases check the user again (``analyzer.service.access``).
"""

import logging

import streamlit as st

from analyzer.errors import plain_message
from analyzer.ui import auth, page_path, state
from analyzer.ui.services.common import UNREACHABLE, has_active_account

st.set_page_config(page_title="Skin recovery", page_icon=":material/healing:", layout="wide")
log = logging.getLogger("analyzer.ui.app")

PAGES = {
    "admin": st.Page(page_path("admin"), title="Admin", icon=":material/admin_panel_settings:",
                     url_path="admin"),
    "practitioner": st.Page(page_path("practitioner"), title="Practitioner",
                            icon=":material/clinical_notes:", url_path="practitioner"),
    "patient": st.Page(page_path("patient"), title="Patient", icon=":material/face:", url_path="patient"),
    "research": st.Page(page_path("research"), title="Research", icon=":material/table_chart:",
                        url_path="research"),
    "account": st.Page(page_path("account"), title="Account", icon=":material/person:", url_path="account"),
    "methods": st.Page(page_path("methods"), title="Methods", icon=":material/menu_book:",
                       url_path="methods"),
}
# Comments, not docstrings, below: a bare string in the app script is shown on the page.
ROLE_PAGES = {
    "patient": ("patient", "account", "methods"),
    "practitioner": ("practitioner", "patient", "account", "methods"),
    "researcher": ("research", "account", "methods"),
    "admin": ("admin", "practitioner", "patient", "research", "account", "methods"),
}
# The pages each role may open, the first one by default.

try:
    store = state.store()
except Exception as e:  # noqa: BLE001 - a visitor never sees the store's address; the log does
    log.error("the dashboard cannot open its store: %s", plain_message(e))
    st.error(UNREACHABLE, icon=":material/cloud_off:")
    st.stop()

if not auth.is_loopback(st.get_option("server.address")) and not (auth.oidc_configured()
                                                                  or has_active_account(store)):
    st.error("This dashboard is served on a network address, but no sign-in is configured, so it will not "
             "show anything. Add an account first (skin-analyzer users add LOGIN --role admin) or "
             "configure the clinic's sign-in (an [auth] section in the file given to skin-analyzer dashboard "
             "--secrets), then restart it.",
             icon=":material/lock:")
    st.stop()

actor = auth.signed_in_actor(store)
if actor is None:
    # The login under every page's address too: a reload of /patient after the session ended shows
    # the login (no "page not found"), and after signing in that address opens its page.
    st.navigation([st.Page(lambda: auth.login_page(store), title="Sign in", icon=":material/login:",
                           url_path=path, default=path == "login") for path in ("login", *PAGES)],
                  position="hidden").run()
else:
    auth.sign_out_button(store, actor)
    pages = [PAGES[p] for p in ROLE_PAGES[actor.role]]
    # Every allowed page is served at its own address (/patient after the camera app reloads the
    # tab): the default page is a hidden home that switches to the role's first page, keeping the
    # query parameters.  With a listed page as the default, Streamlit serves it only at "/" and
    # puts "Page not found" over its own address.
    home = st.Page(lambda: st.switch_page(pages[0], query_params=st.query_params.to_dict()),
                   title="Home", url_path="home", default=True, visibility="hidden")
    st.navigation([home, *pages]).run()
