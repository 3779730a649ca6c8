"""The issue's "done when", in a real browser: four users signed in at once, each sees only what
their role allows, on every page and by URL; logged out, only the login; a foreign Host header is
refused (DNS rebinding).

One dashboard (``python -m analyzer dashboard`` with its own settings, nothing overridden) serves a copy of the demo store: four patients with the sample courses' photos, care
and research consent.  Accounts: ``patient-a`` (patient A = DEMO-1), ``patient-b`` (patient B =
DEMO-2), ``practitioner-a`` (caseload: A only) and ``researcher``.  Each signs in through the login
form (Username, Password, Log in) in their own browser context, all four sessions live at the
same time, and a fifth context stays logged out.

What each browser was sent is checked twice: the page's text (``body.innerText``) and every byte
the server sent over the WebSocket (Streamlit's protobuf messages, where a table's cells travel as
Arrow and a select box's options as plain strings, so a pseudonym hidden in a canvas-drawn table,
a closed picker or an element never shown would still be caught).  Every page is opened by
address (``page.goto``: a fresh Streamlit session each time, so the built-in sign-in must come
back from its cookie), including ``/patient?patient=<someone else>``.

Screenshots for a person to look at: ``test-artifacts/roles-<who>.png`` and
``roles-patient-phone.png`` (390 x 844, the patient page on a phone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.ui.services.common import DEMO_PATIENTS
from tests.ui._browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ERROR_SELECTOR,
    ERROR_TEXTS,
    LOGIN_BUTTON,
    LOGIN_PASSWORD,
    LOGIN_USER,
    STEP_TIMEOUT_MS,
    TRACK_IDLE_JS,
    free_port,
    needs_chromium,
    screenshot_whole_page,
    server_env,
    start_dashboard,
    stop,
    wait_healthy,
    wait_idle,
    websocket_handshake,
)
from tests.ui.conftest import demo_copy

pytestmark = pytest.mark.slow

A, B = DEMO_PATIENTS[:2]  # they have accounts; the other demo patients are other patients of the practice
PSEUDONYMS = tuple(p.pseudonym for p in DEMO_PATIENTS)
NAMES = tuple(p.display_name for p in DEMO_PATIENTS)
EVIL = "evil.example"
"""The attacker's host name of a DNS-rebinding page (resolved to 127.0.0.1 by the browser)."""


@dataclass(frozen=True)
class Who:
    """A browser user: login (None = logged out), role, the pages (titles) their navigation
    lists, the patients they may see."""

    key: str
    login: str | None
    role: str | None
    nav: tuple[str, ...]
    sees: tuple[str, ...]
    patient: str | None = None

    def forbidden(self) -> tuple[str, ...]:
        """Pseudonyms and names this user must never be sent."""
        return tuple(s for p in DEMO_PATIENTS if p.pseudonym not in self.sees
                     for s in (p.pseudonym, p.display_name))


USERS = (
    Who("patient-a", "patient-a", "patient", ("Patient", "Account", "Methods"), (A.pseudonym,), A.pseudonym),
    Who("patient-b", "patient-b", "patient", ("Patient", "Account", "Methods"), (B.pseudonym,), B.pseudonym),
    Who("practitioner", "practitioner-a", "practitioner", ("Practitioner", "Patient", "Account", "Methods"),
        (A.pseudonym,)),
    Who("researcher", "researcher", "researcher", ("Research", "Account", "Methods"), ()),
)
LOGGED_OUT = Who("logged-out", None, None, (), ())
PATHS = ("patient", "practitioner", "research", "admin", "account", "methods",
         f"patient?patient={A.pseudonym}", f"patient?patient={B.pseudonym}")
"""Every address tried by every browser after the sign-in at ``/`` (the admin page exists for
admins only)."""
HEADINGS = {"Practitioner": "practitioner", "Patient": "patient", "Research export": "research",
            "Admin": "admin", "Methods": "methods", "Account": "account"}
"""Page headings (h1) that tell which page is shown -> the page's url path.  A patient's own
Patient page is headed with their name instead."""
NOT_FOUND = "Page not found"
"""Streamlit's dialog for an address that is not one of the role's pages (it then runs the role's
first page)."""
REFUSAL = "This record is not available to your account."


@dataclass(frozen=True)
class Clinic:
    """The running dashboard: its base URL and port, its database, its log, each login's password."""

    url: str
    port: int
    db: Path
    log: Path
    passwords: dict[str, str]


@pytest.fixture(scope="module")
def clinic(demo_template, tmp_path_factory):
    """The dashboard over a copy of the demo store with the four accounts."""
    from analyzer.service.access import Actor
    from analyzer.service.users import add_user, assign, new_password
    from analyzer.ui.services.common import open_app_store

    tmp = tmp_path_factory.mktemp("roles")
    db = demo_copy(demo_template, tmp / "store")
    op = Actor.operator()
    passwords = {}
    with open_app_store(db) as store:
        for who in USERS:
            passwords[who.login] = new_password()
            add_user(store, who.login, who.role, actor=op, patient=who.patient, password=passwords[who.login])
        assign(store, "practitioner-a", A.pseudonym, actor=op)
    port = free_port()
    log = tmp / "streamlit.log"
    proc = start_dashboard(port, server_env(db), log)
    try:
        wait_healthy(port, proc, log)
        yield Clinic(f"http://127.0.0.1:{port}/", port, db, log, passwords)
    finally:
        stop(proc)


def test_websocket_with_a_foreign_host_header_is_refused(clinic):
    """The repository's ``server.allowedHosts`` at work: the WebSocket of a page served under
    another host name (DNS rebinding) is refused before any message, the loopback names pass."""
    port = clinic.port
    for host, origin in ((f"{EVIL}:{port}", f"http://{EVIL}:{port}"), (f"{EVIL}:{port}", None),
                         (f"{EVIL}", f"http://{EVIL}"), (f"127.0.0.1.{EVIL}:{port}", None)):
        status, headers = websocket_handshake(port, host, origin)
        assert status in (0, 403), f"Host {host} (Origin {origin}) was answered {status} {headers}"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, headers = websocket_handshake(port, host, f"http://{host}")
        assert status == 101, f"Host {host} was refused: {status} {headers}"
    # A loopback page talking to the dashboard cross-origin: still refused.
    status, _ = websocket_handshake(port, f"127.0.0.1:{port}", f"http://{EVIL}")
    assert status in (0, 403), f"a cross-origin WebSocket from http://{EVIL} was answered {status}"


class Browser:
    """One browser context and page with everything the server sent it over the WebSocket."""

    def __init__(self, browser, who: Who, viewport=None):
        self.who = who
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 1000})
        self.context.add_init_script(TRACK_IDLE_JS)
        self.page = self.context.new_page()
        self.page.set_default_timeout(STEP_TIMEOUT_MS)
        self.frames: list[bytes] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._got))

    def _got(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    def received(self) -> bytes:
        return b"".join(self.frames)

    def state(self) -> tuple[str, list[str], list[str]]:
        """(page text, h1 headings, navigation links) once the script run is over."""
        wait_idle(self.page)
        text = self.page.locator("body").inner_text()
        h1 = [h.strip() for h in self.page.locator("h1").all_inner_texts()]
        # A link's text is its icon's ligature name, then its title.
        nav = [t.strip().splitlines()[-1] for t in
               self.page.get_by_test_id("stSidebarNav").locator("a").all_inner_texts() if t.strip()]
        return text, h1, nav

    def has_login_form(self) -> bool:
        """The login form's two fields and its button are on the page (CSS queries: role queries
        are slow on a page full of charts)."""
        p = self.page
        return bool(p.locator(f'input[aria-label="{LOGIN_USER}"]').count()
                    and p.locator(f'input[aria-label="{LOGIN_PASSWORD}"][type="password"]').count()
                    and self.login_buttons())

    def login_buttons(self) -> int:
        return self.page.locator("button", has_text=re.compile(f"^{LOGIN_BUTTON}$")).count()


def shown_page(who: Who, h1: list[str], text: str) -> str:
    """Which page is shown, from its heading (a refused record: the Patient page)."""
    if REFUSAL in text:
        return "patient"
    for h in h1:
        if h in HEADINGS:
            return HEADINGS[h]
        if who.patient is not None and (h == who.patient or h in NAMES):
            return "patient"
        if h in PSEUDONYMS or h in NAMES or h == "My recovery":
            return "patient"
    return "?"


def check_visit(b: Browser, path: str, errors: list[str], dialogs: list[str]) -> None:
    """Everything one user may and may not see at one address (failures are appended to
    ``errors``; Streamlit's "Page not found" over a page the role may open, to ``dialogs``)."""
    who = b.who
    text, h1, nav = b.state()
    sent = b.received()
    where = f"{who.key} at /{path}"
    boxes = b.page.locator(ERROR_SELECTOR).all_inner_texts()
    errors += [f"{where}: error box {e.strip()[:300]!r}" for e in boxes]
    errors += [f"{where}: error message {e!r}" for e in ERROR_TEXTS if e in text]
    asked = re.search(r"patient=([\w-]+)", path)
    for s in who.forbidden():
        if s in text:
            errors.append(f"{where}: the page shows {s!r}")
        # The pseudonym typed into the address is the user's own input, echoed back harmlessly.
        if s.encode() in sent and not (asked and s == asked.group(1)):
            errors.append(f"{where}: the server sent {s!r} over the WebSocket")
    if who.login is None:
        if not b.has_login_form():
            errors.append(f"{where}: no login form")
        if nav or any(h in HEADINGS for h in h1):
            errors.append(f"{where}: logged out but shown {nav} {h1}")
        if NOT_FOUND in text:
            dialogs.append(f"{where}: {NOT_FOUND!r} over the login form")
        return
    if tuple(nav) != who.nav:
        errors.append(f"{where}: navigation {nav}, expected {list(who.nav)}")
    if b.login_buttons():
        errors.append(f"{where}: the login form is back (the session did not survive the reload)")
    if f"Signed in as {who.login} ({who.role})" not in text:
        errors.append(f"{where}: 'Signed in as {who.login} ({who.role})' missing")
    page = shown_page(who, h1, text)
    allowed = {t.lower() for t in who.nav}
    if page not in allowed:
        errors.append(f"{where}: shows page {page!r} (headings {h1})")
    opened = path.split("?")[0] or page
    if opened in allowed and opened != page:
        errors.append(f"{where}: shows page {page!r}, not its own page {opened!r}")
    if opened in allowed and NOT_FOUND in text:
        dialogs.append(f"{where}: {NOT_FOUND!r} over a page of the role")
    if asked and "patient" in allowed and asked.group(1) not in who.sees:
        if REFUSAL not in text:
            errors.append(f"{where}: no refusal {REFUSAL!r}")
    if asked and asked.group(1) in who.sees and REFUSAL in text:
        errors.append(f"{where}: refused its own patient")
    # The instrument works: a page of the user's own patient sends that patient over the socket.
    own = [x for p in DEMO_PATIENTS if p.pseudonym in who.sees for x in (p.pseudonym, p.display_name)]
    shown_own = any(x.encode() in sent for x in own)
    if page in ("patient", "practitioner") and REFUSAL not in text and not shown_own:
        errors.append(f"{where}: none of {own} in what the server sent (is the WebSocket check blind?)")


@pytest.mark.slow
@needs_chromium
def test_four_users_at_once_each_see_only_their_own(clinic):
    from playwright.sync_api import expect, sync_playwright

    from analyzer.service.access import Actor
    from analyzer.service.audit import events
    from analyzer.ui.services.common import open_app_store

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    url = clinic.url
    errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        users = [Browser(browser, who) for who in (*USERS, LOGGED_OUT)]
        try:
            signed = [b for b in users if b.who.login is not None]
            # The four sign in at the same time: all forms filled, then all sent.
            for b in users:
                b.page.goto(url, wait_until="commit")
            for b in signed:
                b.page.get_by_label(LOGIN_USER, exact=True).fill(b.who.login)
                b.page.get_by_label(LOGIN_PASSWORD, exact=True).fill(clinic.passwords[b.who.login])
            for b in signed:
                b.page.get_by_role("button", name=LOGIN_BUTTON, exact=True).click()
            for b in users:  # where each lands (the role's first page, or the login)
                if b.who.login is not None:
                    expect(b.page.get_by_text(f"Signed in as {b.who.login} ({b.who.role})")).to_be_visible()
                check_visit(b, "", errors, dialogs)
                screenshot_whole_page(b.page, ARTIFACTS / f"roles-{b.who.key}.png")
                b.page.set_viewport_size({"width": 1280, "height": 1000})

            by_key = {b.who.key: b for b in users}
            for path in PATHS:
                for b in users:  # all five load at once
                    b.frames.clear()
                    b.page.goto(url + path, wait_until="commit")
                for b in users:
                    check_visit(b, path, errors, dialogs)
                if path == "patient":
                    # A patient's own page is headed with their name.
                    for key, demo in (("patient-a", A), ("patient-b", B)):
                        heads = by_key[key].page.locator("h1").all_inner_texts()
                        if demo.display_name not in heads:
                            errors.append(f"{key}'s page is headed {heads}, not {demo.display_name!r}")
                    # The practitioner's patient picker lists their caseload only.
                    pr = by_key["practitioner"].page
                    pr.get_by_role("combobox", name="Patient").click()
                    options = [o.strip() for o in pr.get_by_role("option").all_inner_texts()]
                    pr.keyboard.press("Escape")
                    if not options or not all(A.pseudonym in o for o in options):
                        errors.append(f"practitioner's picker lists {options}")

            phone = Browser(browser, USERS[0], viewport={"width": 390, "height": 844})
            phone.context.add_cookies(by_key["patient-a"].context.cookies())
            phone.page.goto(url)
            expect(phone.page.get_by_text("Signed in as patient-a (patient)")).to_be_attached()
            wait_idle(phone.page)
            screenshot_whole_page(phone.page, ARTIFACTS / "roles-patient-phone.png", width=390)

            # Log out: back to the login, and the old cookie no longer opens anything.
            pa = by_key["patient-a"]
            cookies = pa.context.cookies()
            pa.page.goto(url)
            wait_idle(pa.page)
            pa.page.get_by_role("button", name="Log out").click()
            expect(pa.page.get_by_role("button", name=LOGIN_BUTTON, exact=True)).to_be_visible()
            pa.page.goto(url + "patient")
            expect(pa.page.get_by_role("button", name=LOGIN_BUTTON, exact=True)).to_be_visible()
            stolen = Browser(browser, LOGGED_OUT)
            stolen.context.add_cookies(cookies)
            stolen.page.goto(url + "patient")
            check_visit(stolen, "patient (with patient-a's cookie after the log-out)", errors, dialogs)
        finally:
            browser.close()

    assert not errors, "\n".join(errors) + f"\nserver log:\n{clinic.log.read_text()[-2000:]}"
    with open_app_store(clinic.db) as store:
        denied = events(store, Actor.operator(), who="patient-a", outcome="denied", patient=B.pseudonym)
        ok = events(store, Actor.operator(), action="signin", outcome="ok")
    assert denied, "patient-a opening patient B's page is not in the audit log"
    assert {e.actor for e in ok} >= {who.login for who in USERS}
    # Not a leak, but a patient coming back to their page by its address (after the phone's
    # camera app) must not find it behind a modal "Page not found" (Streamlit serves a role's
    # first page at / only).
    assert not dialogs, "\n".join(dialogs)


@pytest.mark.slow
@needs_chromium
def test_dns_rebinding_page_gets_nothing(clinic):
    """A page loaded as ``http://evil.example:PORT/`` (the attacker's name, resolved to
    127.0.0.1 as after a DNS rebinding) gets the static files but no WebSocket message: no login
    form, no data."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"])
        try:
            b = Browser(browser, LOGGED_OUT)
            b.page.goto(f"http://{EVIL}:{clinic.port}/patient")
            b.page.wait_for_timeout(5000)  # the client tries to connect a few times
            text = b.page.locator("body").inner_text()
            form = b.page.get_by_label(LOGIN_USER, exact=True).count()
        finally:
            browser.close()
    assert b.frames == [], f"the rebinding page got {len(b.frames)} WebSocket message(s)"
    assert form == 0 and "Log in" not in text, text[:500]
    assert "Rejecting WebSocket connection with disallowed Origin or Host header" in clinic.log.read_text()
