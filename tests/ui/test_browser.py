"""One real-browser run of the dashboard: ``python -m analyzer dashboard`` in a subprocess, driven by
headless Debian Chromium through Playwright.

The store is prepared with the services (one patient with care consent, the treatment of the
sample courses at 2026-11-03 09:00 +01:00, 1.0 mm, and the patient's own account); the browser
then does what a patient does: signs in through the login form (Username, Password, Log in),
lands on their own record, uploads three photos of ``sample_images/persistent_redness`` (the
baseline, day 1 and day 3), analyses them, and opens the recovery course.  The course must show
the chart and the ``persistent redness`` warning, which proves the whole path: sign-in -> upload
-> analysis -> store -> course -> page.  A full-page screenshot is kept in
``test-artifacts/dashboard.png`` for a person to look at (``dashboard-failed.png`` when the test
fails), and no error box may be on the page.

Needs ``/usr/bin/chromium`` (Debian's package; ``.ci/run`` installs it); Playwright's own browser
download is never used.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from tests.ui._browser import (
    ARTIFACTS,
    ROOT,
    browser_page,
    free_port,
    log_in,
    needs_chromium,
    page_errors,
    screenshot_whole_page,
    server_env,
    start_dashboard,
    stop,
    wait_healthy,
)

SAMPLES = ROOT / "sample_images" / "persistent_redness"
PHOTOS = ("IMG_20261102_091238.jpg", "IMG_20261104_091939.jpg", "IMG_20261106_090922.jpg")
"""Baseline (the day before), day 1 and day 3: enough for the ``persistent_redness`` warning."""
PATIENT = "P-BROWSER"
NAME = "Browser test"
LOGIN = "browser-patient"


@pytest.fixture
def server(tmp_path: Path):
    """The dashboard on a free port, over a fresh store holding the patient (with care consent),
    the treatment and the patient's own account; yields (base URL, the account's password, path
    of the server's log)."""
    from analyzer.recovery.treatment import Treatment
    from analyzer.service.access import Actor
    from analyzer.service.consent import give_consent
    from analyzer.service.patients import add_treatment, create_patient
    from analyzer.service.users import add_user, new_password
    from analyzer.ui.services.common import DEMO_TREATED_AT, open_app_store

    db = tmp_path / "store" / "analyzer.db"
    op = Actor.operator()
    password = new_password()
    with open_app_store(db) as store:
        create_patient(store, PATIENT, NAME, actor=op)
        give_consent(store, PATIENT, "care", actor=op)
        add_treatment(store, PATIENT, Treatment(DEMO_TREATED_AT, needle_depth_mm=1.0), actor=op)
        add_user(store, LOGIN, "patient", actor=op, patient=PATIENT, password=password)
    port = free_port()
    log = tmp_path / "streamlit.log"
    proc = start_dashboard(port, server_env(db), log)
    try:
        wait_healthy(port, proc, log)
        yield f"http://127.0.0.1:{port}/", password, log
    finally:
        stop(proc)


@pytest.mark.slow
@needs_chromium
def test_upload_three_photos_shows_course_and_redness_flag(server):
    from playwright.sync_api import expect

    url, password, log = server
    (ARTIFACTS / "dashboard-failed.png").unlink(missing_ok=True)
    with browser_page() as page:
        try:
            log_in(page, url, LOGIN, password)

            # A patient account opens on its own record, headed with the patient's name; no picker.
            heading = page.get_by_role("heading", level=1).filter(has_text=re.compile(re.escape(NAME)))
            expect(heading).to_be_visible()
            expect(page.get_by_role("combobox", name="Patient")).to_have_count(0)

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
    assert not errors, f"error boxes on the page: {errors}\nserver log:\n{log.read_text()[-3000:]}"
