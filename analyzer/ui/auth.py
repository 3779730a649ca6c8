"""The dashboard's sign-in gate: who is acting in this browser session, the login page, the
account activation form, and sign-out.

Streamlit code (``serve/app.py`` calls :func:`signed_in_actor` first on every run).  The signed-in
:class:`analyzer.service.access.Actor` lives in ``st.session_state["actor"]``; only server code
writes it (a browser cannot).  Where it comes from, in order:

1. this browser session's own sign-in: ``st.session_state["session_token"]`` checked again with
   :func:`analyzer.service.users.resume_session` on every run, so an idle session expires
   while the page is open;
2. the ``skin_session`` cookie (a built-in sign-in surviving a page reload, e.g. after the
   phone's camera app): the same check;
3. the clinic's identity provider (``st.login``) when ``st.secrets`` has an ``[auth]`` section:
   its person is mapped to an account (:func:`analyzer.service.users.oidc_actor`) once per
   browser session, which then gets a session in the store like a password sign-in (so idle
   expiry and a disabled account end it too);
4. otherwise the login page only.

The cookie holds an opaque 256-bit token of which the store keeps only the SHA-256.  It is set
from the page's own script (Streamlit has no server-side ``Set-Cookie``), so it cannot be
``HttpOnly``: a script running in the page could read it.  That is why the dashboard shows every
text a user typed (names, file names, pseudonyms) as plain text, never as HTML or Markdown, and
allows no third-party scripts; ``SameSite=Strict`` keeps other sites from sending it, and it is
``Secure`` whenever the page is served over https.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging

import streamlit as st

from analyzer.errors import plain_message
from analyzer.service import users
from analyzer.service.access import Actor
from analyzer.store.db import Store
from analyzer.ui.forms import new_password_inputs, typed_twice
from analyzer.ui.services.common import UNREACHABLE, md_text

__all__ = [
    "COOKIE",
    "cookie_token",
    "is_loopback",
    "login_page",
    "oidc_configured",
    "sign_out",
    "sign_out_button",
    "signed_in_actor",
]

log = logging.getLogger(__name__)

COOKIE = "skin_session"
"""The name of the cookie that carries the built-in sign-in's session token."""

_ENDED = "Your session has ended. Please sign in again."


def is_loopback(address: str | None) -> bool:
    """True when the server listens on a loopback address only (``localhost``, 127.0.0.0/8,
    ``::1``); an empty address means every interface."""
    host = (address or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_token() -> str | None:
    """The session token of the ``skin_session`` cookie sent with this browser session, if any."""
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no browser (e.g. a test run): no cookie
        return None
    return value if isinstance(value, str) and value else None


def oidc_configured() -> bool:
    """True when Streamlit's secrets (``skin-analyzer dashboard --secrets FILE``, else
    ``.streamlit/secrets.toml``) have an ``[auth]`` section (``st.login`` works)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def _oidc_logged_in() -> bool:
    try:
        return st.user.is_logged_in is True
    except Exception:  # noqa: BLE001 - no [auth] section
        return False


def _https() -> bool:
    """True when the browser reached the page over https (directly, or through a proxy that says
    so in ``X-Forwarded-Proto``)."""
    try:
        url = st.context.url
        forwarded = st.context.headers.get("X-Forwarded-Proto")
    except Exception:  # noqa: BLE001 - no browser
        return False
    return (isinstance(url, str) and url.startswith("https:")) or forwarded == "https"


def _cookie_script(token: str | None, max_age_s: int) -> None:
    """Set (or, with ``token`` None, delete) the session cookie from the page's own script."""
    secure = "; Secure" if _https() else ""
    value = token if token and set(token) <= _TOKEN_CHARS else ""
    age = max_age_s if token is not None else 0
    st.html(f"<script>document.cookie = '{COOKIE}={value}; Path=/; SameSite=Strict; Max-Age={age}{secure}';"
            "</script>", unsafe_allow_javascript=True)


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
"""What a token (URL-safe base64) may contain; anything else is never written into the script."""


def _flush_cookie() -> None:
    """Write or delete the cookie a previous run asked for (after its ``st.rerun``)."""
    ss = st.session_state
    if "_cookie_set" in ss:
        _cookie_script(ss["_cookie_set"], users.SESSION_MAX_S)
        # Written on two runs: the first may be cut short when the home address switches to the
        # role's first page, before the browser has drawn (and so run) the script.
        ss["_cookie_runs"] = ss.get("_cookie_runs", 2) - 1
        if ss["_cookie_runs"] <= 0:
            del ss["_cookie_set"], ss["_cookie_runs"]
    elif ss.pop("_cookie_clear", False):
        _cookie_script(None, 0)


def _start(store: Store, actor: Actor) -> None:
    token = users.start_session(store, actor)
    st.session_state["actor"] = actor
    st.session_state["session_token"] = token
    st.session_state["_cookie_set"] = token


def sign_out(store: Store) -> None:
    """End this browser's session (the store's, the cookie, every memo of this session)."""
    token = st.session_state.get("session_token") or cookie_token()
    if token:
        try:
            users.end_session(store, token)
        except Exception as e:  # noqa: BLE001 - the session state is cleared all the same
            log.warning("ending a dashboard session failed: %s", type(e).__name__)
    st.session_state.clear()
    st.session_state["_cookie_clear"] = True
    st.session_state["_signed_out"] = True  # the browser sends the old cookie until it reloads


def signed_in_actor(store: Store) -> Actor | None:
    """Who is signed in to this browser session (checked against the store on every run), or
    None.  Also writes the cookie a sign-in or sign-out of the previous run asked for."""
    _flush_cookie()
    ss = st.session_state
    via_oidc = ss.get("_via") == "oidc"
    if via_oidc and not _oidc_logged_in():  # signed out of the identity provider meanwhile
        sign_out(store)
        return None
    token = ss.get("session_token")
    if not token and not ss.get("_signed_out"):
        token = cookie_token()
    if token:
        actor = users.resume_session(store, token)
        if actor is None:  # idle too long, too old, signed out elsewhere, disabled, password changed
            had = "actor" in ss
            ss.clear()
            ss["_cookie_clear"] = True
            ss["_signed_out"] = True  # the browser still sends the old cookie until it reloads
            if had:
                ss["_notice"] = _ENDED
            _flush_cookie()
            return None
        if via_oidc:
            actor = dataclasses.replace(actor, via="oidc")
        ss["actor"] = actor
        ss["session_token"] = token
        return actor
    if oidc_configured() and _oidc_logged_in():
        try:
            actor = users.oidc_actor(store, st.user.get("sub"), st.user.get("email"),
                                     email_verified=st.user.get("email_verified") is True)
        except users.AuthError as e:
            st.title("Skin recovery")
            st.error(md_text(plain_message(e)))
            if st.button("Log out", key="oidc-logout"):
                st.session_state.clear()
                st.logout()
            st.stop()
        # A session in the store as for a password sign-in: idle expiry and a disabled account
        # end it the same way (no cookie: the identity provider's own keeps the sign-in).
        ss["session_token"] = users.start_session(store, actor)
        ss["actor"] = actor
        ss["_via"] = "oidc"
        ss.pop("_signed_out", None)
        return actor
    actor = ss.get("actor")  # only server code writes it (and a test, to skip the login)
    return actor if isinstance(actor, Actor) else None


def login_page(store: Store) -> None:
    """All a signed-out visitor sees: the login form (Username, Password, Log in), the clinic
    account's button when one is configured, and the invite-code activation."""
    st.title("Skin recovery")
    notice = st.session_state.pop("_notice", None)
    if notice:
        st.info(notice)
    if oidc_configured():
        if st.button("Sign in with your clinic account", type="primary", key="oidc-login"):
            st.login()
        st.caption("Or sign in with a username and password:")
    with st.form("login"):
        login = st.text_input("Username", key="login-username", autocomplete="username")
        password = st.text_input("Password", type="password", key="login-password",
                                 autocomplete="current-password")
        if st.form_submit_button("Log in", type="primary"):
            try:
                actor = users.authenticate(store, login.strip(), password)
            except users.AuthError as e:
                st.error(md_text(plain_message(e)))
            except Exception as e:  # noqa: BLE001 - the store: never its address to a visitor
                log.error("sign-in failed: %s", plain_message(e))
                st.error(UNREACHABLE)
            else:
                _start(store, actor)
                st.session_state.pop("_signed_out", None)
                st.rerun()
    with st.expander("Activate your account (with the code from your practitioner)"):
        with st.form("activate", clear_on_submit=False):
            code = st.text_input("Invite code", key="activate-code")
            new_login = st.text_input("Choose a username", key="activate-username", autocomplete="username")
            pw1, pw2 = new_password_inputs("Choose a password", "The password again", "activate-password",
                                           "activate-password2")
            if st.form_submit_button("Activate"):
                if typed_twice(pw1, pw2):
                    try:
                        actor = users.activate(store, code.strip(), new_login.strip(), pw1)
                    except Exception as e:  # noqa: BLE001 - InviteError and bad logins, in plain words
                        st.error(md_text(plain_message(e)))
                    else:
                        _start(store, actor)
                        st.session_state.pop("_signed_out", None)
                        st.rerun()


def sign_out_button(store: Store, actor: Actor) -> None:
    """The sidebar's 'Signed in as' line and the Log out button (every page)."""
    with st.sidebar:
        st.text(f"Signed in as {actor.login} ({actor.role})")  # text, never Markdown: no mailto links
        if st.button("Log out", key="logout", icon=":material/logout:"):
            sign_out(store)
            if actor.via == "oidc" and _oidc_logged_in():
                st.logout()
            st.rerun()
