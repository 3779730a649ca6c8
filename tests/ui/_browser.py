"""Helpers shared by the real-browser tests: start ``python -m analyzer dashboard`` in a subprocess on a free
loopback port, wait for it, stop it; drive headless Debian Chromium (``/usr/bin/chromium``) through
Playwright; sign in through the login form; a raw WebSocket handshake for the Host-header check.

Playwright's own browser download is never used; the tests skip when Debian's chromium is missing
(``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Flags for a headless run on a closed network (without the background-networking ones
Chromium keeps trying to reach Google services)."""
ARTIFACTS = ROOT / "test-artifacts"
HEALTH_TIMEOUT_S = 60
STEP_TIMEOUT_MS = 30_000

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian chromium not installed (.ci/run installs it)")

# What counts as a broken page: Streamlit's exception box (with showErrorDetails = "none" it says
# "This app has encountered an error"), and the pages' own plain message for an unexpected error.
ERROR_SELECTOR = '[data-testid="stException"]'
ERROR_TEXTS = ("This app has encountered an error", "Something went wrong (")

LOGIN_USER = "Username"
LOGIN_PASSWORD = "Password"
LOGIN_BUTTON = "Log in"
"""The login form's contract (issue 12): two text inputs and a submit button, by these labels."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = HEALTH_TIMEOUT_S,
              expect: str | None = None) -> None:
    """Poll ``url`` until it answers 200 (and its body, stripped, is ``expect`` when given); fail
    with the process's log when it exits or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if expect is None or r.read().decode().strip() == expect:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"nothing answered {url} within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def wait_healthy(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``."""
    wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc, log, timeout_s, expect="ok")


def start_process(argv: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """``argv`` in its own process group, output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def start_dashboard(port: int, env: dict[str, str], log: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """``python -m analyzer dashboard --port PORT`` (the command users run, with the settings of
    ``analyzer/ui/server.py``), output in ``log``; ``extra`` are more of its options
    (``--secrets FILE``)."""
    return start_process([sys.executable, "-m", "analyzer", "dashboard", "--port", str(port), *extra], env, log)


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL the process's whole group (neither server has a child worth a clean exit)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def server_env(db: Path) -> dict[str, str]:
    """The environment of a dashboard on the store at ``db``."""
    return dict(os.environ, ANALYZER_DB_URL=str(db), PYTHONPATH=str(ROOT))


def launch(pw):
    """Headless Debian Chromium."""
    return pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 1000):
    """A page of a fresh headless Chromium at ``width`` x ``height``, with ``STEP_TIMEOUT_MS`` for
    its actions and for Playwright's ``expect``; the browser is closed afterwards."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def page_errors(page) -> list[str]:
    """The texts of the exception boxes and unexpected-error messages on the page."""
    found = [t.strip()[:300] for t in page.locator(ERROR_SELECTOR).all_inner_texts()]
    for text in ERROR_TEXTS:
        found += [t.strip()[:300] for t in page.get_by_text(text, exact=False).all_inner_texts()]
    return found


def log_in(page, url: str, login: str, password: str) -> None:
    """Open ``url`` and sign in through the login form (the fields Username and Password, the
    button Log in); returns once the form is gone."""
    from playwright.sync_api import expect

    page.goto(url)
    user = page.get_by_label(LOGIN_USER, exact=True)
    user.fill(login)
    page.get_by_label(LOGIN_PASSWORD, exact=True).fill(password)
    page.get_by_role("button", name=LOGIN_BUTTON, exact=True).click()
    expect(page.get_by_role("button", name=LOGIN_BUTTON, exact=True)).to_have_count(0)


def main_text(page) -> str:
    """The whole text of the page (main area and sidebar), once Streamlit has stopped running."""
    wait_idle(page)
    return page.locator("body").inner_text()


_IDLE_NOW = """(() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]');
})()"""
TRACK_IDLE_JS = f"""window.__idleTracked = true;
setInterval(() => {{
    if (!{_IDLE_NOW}) window.__idleSince = undefined;
    else if (window.__idleSince === undefined) window.__idleSince = performance.now();
}}, 50);"""
"""An init script (``context.add_init_script``) that notes since when the page has been idle, so
:func:`wait_idle` need not wait out its quiet time again on a page that has been quiet for a while."""
IDLE_JS = f"""(quiet) => {{
    if (!{_IDLE_NOW}) {{ window.__idleSince = undefined; return false; }}
    if (!window.__idleTracked) window.__idleSince = window.__idleSince || performance.now();
    return window.__idleSince !== undefined && performance.now() - window.__idleSince >= quiet;
}}"""
"""True once the app is connected and no script has run for ``quiet`` ms (Streamlit's own
``data-test-script-state``: ``initial`` before the first run, ``running``, then ``notRunning``; a
script's ``st.rerun`` starts another run, hence the quiet time)."""


def wait_idle(page, timeout_ms: int = STEP_TIMEOUT_MS, quiet_ms: int = 400) -> None:
    """Wait until the page's script runs are over (connected, not running for ``quiet_ms``)."""
    page.wait_for_function(IDLE_JS, arg=quiet_ms, timeout=timeout_ms, polling=50)


def screenshot_whole_page(page, path: Path, width: int = 1280) -> None:
    """Screenshot everything: Streamlit scrolls inside ``stMain``, so the viewport is made as
    tall as that content first (a plain full_page screenshot stops at the viewport)."""
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return Math.ceil(Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight));
        }""")
    page.set_viewport_size({"width": width, "height": min(max(height, 900) + 40, 12_000)})
    page.wait_for_timeout(500)  # charts re-lay out on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def websocket_handshake(port: int, host: str, origin: str | None) -> tuple[int, dict[str, str]]:
    """Open a WebSocket to Streamlit's ``/_stcore/stream`` on 127.0.0.1:``port`` by hand, with
    this ``Host`` header (and ``Origin`` when given), as a DNS-rebinding page would: the browser
    connects to the loopback address but sends the attacker's host name.  Returns the HTTP status
    of the answer (101 = upgraded) and its headers (names lower-cased); 0 when the server closed
    the connection without an answer."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Protocol: streamlit"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data:
        return 0, {}
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status == 101:
        expected = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
                                    .digest()).decode()
        assert headers.get("sec-websocket-accept") == expected, headers
    return status, headers
