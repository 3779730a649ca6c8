"""One real-browser run of the dashboard: ``streamlit run app.py`` in a subprocess, driven by
headless Debian Chromium through Playwright.

The store is prepared with the services (one patient, the treatment of the sample courses at
2026-11-03 09:00 +01:00, 1.0 mm); the browser then does what a patient does: opens the page,
uploads three photos of ``sample_images/persistent_redness`` (the baseline, day 1 and day 3),
analyses them, and opens the recovery course.  The course must show the chart and the
``persistent redness`` warning, which proves the whole path: upload -> analysis -> store ->
course -> page.  A full-page screenshot is kept in ``test-artifacts/dashboard.png`` for a person
to look at (``dashboard-failed.png`` when the test fails), and no error box may be on the page.

Needs ``/usr/bin/chromium`` (Debian's package; ``.ci/run`` installs it); Playwright's own browser
download is never used.
"""

from __future__ import annotations

import contextlib
import os
import re
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
SAMPLES = ROOT / "sample_images" / "persistent_redness"
PHOTOS = ("IMG_20261102_091238.jpg", "IMG_20261104_091939.jpg", "IMG_20261106_090922.jpg")
"""Baseline (the day before), day 1 and day 3: enough for the ``persistent_redness`` warning."""
PATIENT = "P-BROWSER"
HEALTH_TIMEOUT_S = 60
STEP_TIMEOUT_MS = 30_000

# What counts as a broken page: Streamlit's exception box (with showErrorDetails = "none" it says
# "This app has encountered an error"), and the pages' own plain message for an unexpected error.
ERROR_SELECTOR = '[data-testid="stException"]'
ERROR_TEXTS = ("This app has encountered an error", "Something went wrong (")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, log: Path, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``; fail with the server's log when
    the process exits or the time is up."""
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer {url} within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def start_streamlit(app: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``streamlit run <app>`` from the repository root, in its own process group, output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", app, "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL the server's whole process group (Streamlit has no child worth a clean exit)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path):
    """The dashboard on a free port, over a fresh store holding the patient and the treatment;
    yields (base URL, path of the server's log)."""
    from ui.services.common import DEMO_TREATED_AT, open_app_store
    from ui.services.patient import create_patient, save_treatment

    db = tmp_path / "store" / "analyzer.db"
    with open_app_store(db) as store:
        create_patient(store, PATIENT, "Browser test")
        save_treatment(store, PATIENT, DEMO_TREATED_AT, 1.0)
    port = free_port()
    log = tmp_path / "streamlit.log"
    env = dict(os.environ, ANALYZER_DB_URL=str(db), PYTHONPATH=str(ROOT))
    proc = start_streamlit("app.py", port, env, log)
    try:
        wait_healthy(port, proc, log)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        stop(proc)


def page_errors(page) -> list[str]:
    """The texts of the exception boxes and unexpected-error messages on the page."""
    found = [t.strip()[:300] for t in page.locator(ERROR_SELECTOR).all_inner_texts()]
    for text in ERROR_TEXTS:
        found += [t.strip()[:300] for t in page.get_by_text(text, exact=False).all_inner_texts()]
    return found


def screenshot_whole_page(page, path: Path) -> None:
    """Screenshot everything: Streamlit scrolls inside ``stMain``, so the viewport is made as
    tall as that content first (a plain full_page screenshot stops at the viewport)."""
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return Math.ceil(Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight));
        }""")
    page.set_viewport_size({"width": 1280, "height": min(max(height, 900) + 40, 12_000)})
    page.wait_for_timeout(500)  # charts re-lay out on resize
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (.ci/run installs it)")
def test_upload_three_photos_shows_course_and_redness_flag(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)

    url, log = server
    (ARTIFACTS / "dashboard-failed.png").unlink(missing_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.goto(url)

            # The only patient is selected by default.
            expect(page.get_by_role("combobox", name="Patient")).to_have_value(re.compile(PATIENT))

            page.get_by_role("tab", name="Add photos").click()
            uploader = page.get_by_test_id("stFileUploader")
            uploader.locator('input[type="file"]').set_input_files([str(SAMPLES / p) for p in PHOTOS])
            for p in PHOTOS:
                expect(uploader.get_by_role("button", name=f"Remove {p}")).to_be_visible()  # its file chip

            page.get_by_role("button", name=f"Analyse {len(PHOTOS)} photo(s)").click()
            verdicts = page.get_by_test_id("stAlert").filter(has_text=" · added")
            expect(verdicts).to_have_count(len(PHOTOS), timeout=60_000)
            for p in PHOTOS:
                expect(verdicts.filter(has_text=p)).to_be_visible()

            page.get_by_role("tab", name="Recovery").click()
            course = page.get_by_role("tabpanel", name="Recovery")
            # The recovery chart is the tab's first Vega chart (Streamlit puts no key class on
            # charts); Vega draws it as <svg class="marks"> (or a canvas with another renderer).
            chart = course.get_by_test_id("stVegaLiteChart").first.locator("svg.marks, canvas")
            expect(chart.first).to_be_visible()
            flag = course.get_by_test_id("stAlert").filter(has_text="redness")
            expect(flag.first).to_be_visible()
            expect(flag.first).to_contain_text("persistent redness")

            screenshot_whole_page(page, ARTIFACTS / "dashboard.png")
            errors = page_errors(page)
        except Exception:
            with contextlib.suppress(Exception):  # keep what the page showed; the failure itself matters more
                screenshot_whole_page(page, ARTIFACTS / "dashboard-failed.png")
            raise
        finally:
            browser.close()
    assert not errors, f"error boxes on the page: {errors}\nserver log:\n{log.read_text()[-3000:]}"
