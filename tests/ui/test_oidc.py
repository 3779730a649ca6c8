"""OIDC sign-in end to end, in a real browser, against a real OpenID provider on loopback.

The provider is ``oidc-provider-mock`` (``python -m oidc_provider_mock``) started by the test on a
free port of 127.0.0.1; its authorize page has a ``sub`` field and an **Authorize** button.  The
dashboard (``python -m analyzer dashboard``) gets an ``[auth]`` section pointing at it through
``--secrets FILE``, a secrets file in a temporary folder (the repository's own ``.streamlit/`` is
never written).  Streamlit's ``st.login`` then does
the whole authorization-code flow: discovery, the redirect to the provider, the code exchange at
its token endpoint, the ID token's signature checked against its keys.

The store has one OIDC account, ``practitioner@clinic.test`` (role practitioner), tied to the
subject the test types.  Proven here:

* that subject lands on the Practitioner page, signed in as that account, and a reload keeps the
  sign-in (Streamlit's own signed auth cookie);
* a subject with no account gets the one "not set up" message and a Log out button, and nothing
  else of the dashboard (no page, no navigation, no patient);
* both sign-ins are in the audit log (``signin``, ok and failed).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

from tests.ui._browser import (
    ARTIFACTS,
    STEP_TIMEOUT_MS,
    browser_page,
    free_port,
    needs_chromium,
    page_errors,
    screenshot_whole_page,
    server_env,
    start_dashboard,
    start_process,
    stop,
    wait_healthy,
    wait_http,
    wait_idle,
)

pytestmark = [pytest.mark.slow, needs_chromium]

LOGIN = "practitioner@clinic.test"
SUBJECT = "c3f1e2d4-practitioner"
"""The provider's subject of the clinic account (what the test types on the authorize page)."""
STRANGER = "someone-else"
"""A subject the provider knows but the dashboard has no account for."""
PASSWORD_LOGIN = "dr.jane@clinic.test"
"""A built-in (password) account whose login is an e-mail address, with no OIDC subject."""
PATIENT = "P-OIDC"
NAME = "Oidc test patient"
PAGE_TITLES = ("Practitioner", "My recovery", "Research export", "Admin", "Methods", "Account")
"""The headings of the dashboard's pages (none may show before a sign-in is accepted)."""


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """``oidc-provider-mock`` on a free loopback port; yields its base URL."""
    tmp = tmp_path_factory.mktemp("oidc-provider")
    port = free_port()
    log = tmp / "provider.log"
    proc = start_process([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1",
                          "--port", str(port)], server_env(tmp / "unused.db"), log)
    try:
        wait_http(f"http://127.0.0.1:{port}/.well-known/openid-configuration", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, provider):
    """The dashboard signing in through ``provider``; yields (base URL, database path, log path)."""
    from analyzer.service.access import Actor
    from analyzer.service.patients import create_patient
    from analyzer.service.users import add_user, new_password
    from analyzer.ui.services.common import open_app_store

    tmp = tmp_path_factory.mktemp("oidc-dashboard")
    db = tmp / "store" / "analyzer.db"
    op = Actor.operator()
    with open_app_store(db) as store:
        create_patient(store, PATIENT, NAME, actor=op)
        add_user(store, LOGIN, "practitioner", actor=op, oidc_subject=SUBJECT)
        add_user(store, PASSWORD_LOGIN, "practitioner", actor=op, password=new_password())
    port = free_port()
    secrets_toml = tmp / "secrets.toml"
    secrets_toml.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "skin-dashboard"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    secrets_toml.chmod(0o600)
    log = tmp / "streamlit.log"
    proc = start_dashboard(port, server_env(db), log, ("--secrets", str(secrets_toml)))
    try:
        wait_healthy(port, proc, log)
        yield f"http://127.0.0.1:{port}/", db, log
    finally:
        stop(proc)


def sign_in_with_provider(page, url: str, subject: str) -> None:
    """Open the dashboard, press the clinic-account button, type ``subject`` at the provider and
    authorize; returns once the browser is back on the dashboard."""
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_role("button", name="Sign in with your clinic account").click()
    page.get_by_placeholder("sub").fill(subject)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(f"{url}**", timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_test_id("stMain")).to_be_visible()


def signin_events(db: Path) -> list:
    from analyzer.service.access import Actor
    from analyzer.service.audit import events
    from analyzer.ui.services.common import open_app_store

    with open_app_store(db) as store:
        return events(store, Actor.operator(), action="signin")


def test_oidc_account_lands_on_its_page_and_a_reload_keeps_it(dashboard):
    from playwright.sync_api import expect

    url, db, log = dashboard
    with browser_page() as page:
        sign_in_with_provider(page, url, SUBJECT)
        expect(page.get_by_role("heading", name="Practitioner", level=1)).to_be_visible()
        expect(page.get_by_text(f"Signed in as {LOGIN} (practitioner)")).to_be_visible()
        expect(page.get_by_role("button", name="Log in", exact=True)).to_have_count(0)
        wait_idle(page)
        screenshot_whole_page(page, ARTIFACTS / "oidc-practitioner.png")

        page.reload()
        expect(page.get_by_role("heading", name="Practitioner", level=1)).to_be_visible()
        expect(page.get_by_text(f"Signed in as {LOGIN} (practitioner)")).to_be_visible()
        wait_idle(page)
        errors = page_errors(page)
    assert not errors, f"error boxes on the page: {errors}\nserver log:\n{log.read_text()[-3000:]}"
    ok = [e for e in signin_events(db) if e.actor == LOGIN and e.outcome == "ok"]
    assert ok, "the OIDC sign-in is not in the audit log"


def test_unknown_oidc_subject_is_told_and_sees_nothing_else(dashboard):
    from playwright.sync_api import expect

    url, db, log = dashboard
    with browser_page() as page:
        sign_in_with_provider(page, url, STRANGER)
        refusal = page.get_by_test_id("stAlert").filter(has_text="not set up")
        expect(refusal).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        wait_idle(page)
        text = page.locator("body").inner_text()
        nav = page.get_by_test_id("stSidebarNav").count()
        headings = [h.strip() for h in page.get_by_role("heading", level=1).all_inner_texts()]
        screenshot_whole_page(page, ARTIFACTS / "oidc-unknown.png")
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.get_by_role("button", name="Log out").click()
        # Streamlit ends the session at the provider too (RP-initiated logout), which sends the
        # browser back to the dashboard's sign-in choices.
        page.get_by_role("button", name="End session").click()
        expect(page.get_by_role("button", name="Sign in with your clinic account")).to_be_visible()
        expect(page.get_by_text("not set up")).to_have_count(0)
    assert nav == 0, "an unknown identity was shown the page navigation"
    for leak in (PATIENT, NAME):
        assert leak not in text, f"an unknown identity was shown {leak!r}:\n{text[:2000]}"
    shown = [h for h in headings if h in PAGE_TITLES]
    assert not shown, f"an unknown identity was shown the page(s) {shown}"
    failed = [e for e in signin_events(db) if e.outcome == "failed"]
    assert failed, "the refused OIDC sign-in is not in the audit log"


def test_an_unverified_email_claim_does_not_take_over_a_password_account(dashboard):
    """The provider here lets anyone be any subject, and its ``email`` claim is the subject,
    unverified (no ``email_verified``).  Typing the login of a built-in account must not sign in
    as that account: linking an identity by e-mail needs the provider to vouch for the address."""

    url, db, log = dashboard
    with browser_page() as page:
        sign_in_with_provider(page, url, PASSWORD_LOGIN)
        wait_idle(page)
        text = page.locator("body").inner_text()
    assert f"Signed in as {PASSWORD_LOGIN}" not in text, "an unverified e-mail took over a password account"
    assert "not set up" in text, text[:1000]
