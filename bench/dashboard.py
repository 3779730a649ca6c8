"""Benchmark the dashboard: a patient with 90 analysed photos, time from opening the patient page
to the recovery chart being visible, warm, in Chromium (target < 2 s).

Run from the repository root::

    .venv/bin/python bench/dashboard.py [--photos 90] [--loads 5]

Method.  The 16 photos of ``sample_images/normal`` are analysed once; the store then gets
``--photos`` photo rows for one patient by reusing those analyses (``dataclasses.replace`` with a
new file name and capture time, a distinct fake SHA-256, the real stripped copy of the source
photo), one a day from the day before the treatment on (the baseline, then day 0.1, 1, 2, ...).
Each day gets the sample photo taken closest to that day after the treatment, and the last ones
(healed) in turn after day 14, so the course looks like a real, normal recovery.  The treatment is
the samples' one (2026-11-03 09:00 +01:00, 1.0 mm).

The patient (with care consent) has their own account, ``bench-patient``, with a fresh random
password.  ``python -m analyzer dashboard`` is started on that store (a free port on 127.0.0.1, as the test
does), and headless Debian Chromium (``/usr/bin/chromium``, through Playwright) signs in as the
patient through the login form; a patient account lands on its own Patient page (the Recovery tab
is open by default).  One load is cold: the sign-in, the first run of the patient page after the
server starts (Streamlit compiles the page and opens the store), timed from the click on
**Log in**.  Then ``--loads`` warm loads, each in a fresh page of the same browser context (a new
Streamlit session that the ``skin_session`` cookie signs in again, as after the phone's camera
app; the HTTP cache is warm), timed from ``page.goto``.  Each ends when the recovery chart's
``<svg class="marks">`` (or canvas) is visible and the flag list ("What we noticed" with its
boxes) is rendered; Playwright checks on every animation frame.  The services part alone,
``course_view`` as the patient on the same store in this process (median of 5), and building the
chart's Vega-Lite JSON are timed apart, so the split between the server and the browser is
visible.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer import _version
from analyzer.intake import stored_copy
from analyzer.recovery.treatment import Treatment
from analyzer.service.access import Actor
from analyzer.service.consent import give_consent
from analyzer.service.patients import add_treatment, create_patient
from analyzer.service.users import add_user, authenticate, new_password
from analyzer.store.photos import commit_photo, sha256_of
from analyzer.ui.charts import recovery_chart
from analyzer.ui.services.common import DEMO_TREATED_AT, new_analyzer, open_app_store
from analyzer.ui.services.patient import course_view
from tests.ui._browser import CHROMIUM, free_port, launch, stop  # the browser tests' own helpers

PATIENT = "BENCH-90"
LOGIN = "bench-patient"
TARGET_S = 2.0
HEALTH_TIMEOUT_S = 60
LOAD_TIMEOUT_MS = 60_000


def build_store(db: Path, n: int) -> tuple[float, str]:
    """One patient with care consent, ``n`` analysed photos, the treatment and the patient's own
    account (:data:`LOGIN`) in a new store at ``db``; returns the seconds it took and the
    account's password."""
    t0 = time.perf_counter()
    samples = sorted((ROOT / "sample_images" / "normal").glob("*.jpg"))
    az = new_analyzer()
    try:
        analysed = []
        for p in samples:
            data = p.read_bytes()
            r = az.analyze(data, name=p.name)
            if not r.ok or r.captured_at is None:
                raise SystemExit(f"{p}: {r.error or 'no capture time'}")
            analysed.append((p, data, r))
    finally:
        az.close()
    treated = DEMO_TREATED_AT
    by_day = sorted(analysed, key=lambda a: a[2].captured_at)
    days = [(r.captured_at - treated).total_seconds() / 86400 for _, _, r in by_day]
    healed = [a for a, d in zip(by_day, days) if d >= 9]
    stripped: dict[Path, bytes] = {}
    version = _version.__version__
    op = Actor.operator()
    password = new_password()
    with open_app_store(db) as store:
        create_patient(store, PATIENT, "Benchmark: 90 photos", actor=op)
        give_consent(store, PATIENT, "care", actor=op)
        add_treatment(store, PATIENT, Treatment(treated, needle_depth_mm=1.0), actor=op)
        add_user(store, LOGIN, "patient", actor=op, patient=PATIENT, password=password)
        for i in range(n):
            day = -1.0 if i == 0 else 0.1 if i == 1 else float(i - 1)
            if day <= days[-1]:
                src, data, r = min(by_day, key=lambda a: abs((a[2].captured_at - treated).total_seconds() / 86400 - day))
            else:
                src, data, r = healed[i % len(healed)]
            label = f"bench_{i:03d}_{src.name}"
            when = treated + timedelta(days=day)
            result = dataclasses.replace(r, file=label, captured_at=when)
            if src not in stripped:
                stripped[src] = stored_copy(data, name=src.name)
            ok = commit_photo(store, PATIENT, label, sha256_of(f"bench-dashboard-{i}".encode()), result, version,
                              lambda s=src: stripped[s])
            assert ok, label
    return time.perf_counter() - t0, password


def time_services(db: Path, password: str, repeats: int = 5) -> tuple[float, float, int, int]:
    """Median seconds of ``course_view`` (as the patient) and of building the chart JSON; points
    and flags."""
    with open_app_store(db) as store:
        patient = authenticate(store, LOGIN, password)
        view_s, chart_s = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            view = course_view(store, PATIENT, actor=patient)
            t1 = time.perf_counter()
            recovery_chart(view).to_json()
            t2 = time.perf_counter()
            view_s.append(t1 - t0)
            chart_s.append(t2 - t1)
    return statistics.median(view_s), statistics.median(chart_s), len(view.points), len(view.flags)


def start_dashboard(db: Path, port: int, log: Path) -> subprocess.Popen:
    """``python -m analyzer dashboard`` on ``db``, in its own process group; waits for its health check."""
    env = dict(os.environ, ANALYZER_DB_URL=str(db), PYTHONPATH=str(ROOT))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "analyzer", "dashboard", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return proc
        except OSError:
            time.sleep(0.25)
    stop(proc)
    raise SystemExit(f"streamlit did not start:\n{log.read_text()[-3000:]}")


MARKS_JS = """(() => {
  const marks = window.__benchMarks = {};
  const seen = {
    html: '[data-testid="stSidebarNav"]',
    flags: '[data-testid="stColumn"] [data-testid="stAlert"]',
    chart_element: '[data-testid="stVegaLiteChart"]',
    chart_drawn: '[data-testid="stVegaLiteChart"] svg.marks, [data-testid="stVegaLiteChart"] canvas',
  };
  new MutationObserver(() => {
    for (const [k, sel] of Object.entries(seen)) {
      if (!(k in marks) && document.querySelector(sel)) marks[k] = performance.now() / 1000;
    }
  }).observe(document, {subtree: true, childList: true});
  document.addEventListener('DOMContentLoaded', () => { marks.dom_ready = performance.now() / 1000; });
})()"""
"""In-page milestones, in seconds since the navigation started (``performance.now``), seen by a
MutationObserver: the JavaScript loaded (DOMContentLoaded), the first element the signed-in app
sent (the page navigation; the login page has none), the flag box (the script has run past the
course), the chart's element, the chart drawn."""
MARKS = ("dom_ready", "html", "flags", "chart_element", "chart_drawn")


RESET_MARKS_JS = """() => {
  const t = performance.now() / 1000;
  for (const k of Object.keys(window.__benchMarks)) delete window.__benchMarks[k];
  window.__benchMarks.dom_ready = t;
  return t;
}"""
"""Start the milestones again (at the click on Log in: the login page had its own title)."""


def load_once(context, url: str, screenshot: Path | None = None,
              password: str | None = None) -> tuple[float, dict[str, float], int]:
    """Open the page in a fresh page of ``context`` (a new session); seconds until the chart and
    the flag list are shown, the in-page milestones (:data:`MARKS_JS`) and the number of boxes in
    the flag list.  With ``password``, sign in through the login form first; the time and the
    milestones then start at the click on Log in."""
    page = context.new_page()
    page.add_init_script(script=MARKS_JS)
    try:
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        offset = 0.0
        if password is not None:
            page.get_by_label("Username", exact=True).fill(LOGIN)
            page.get_by_label("Password", exact=True).fill(password)
            offset = page.evaluate(RESET_MARKS_JS)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Log in", exact=True).click()
        course = page.get_by_role("tabpanel", name="Recovery")
        chart = course.get_by_test_id("stVegaLiteChart").first.locator("svg.marks, canvas").first
        chart.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
        notes = course.get_by_test_id("stColumn").first
        notes.get_by_role("heading", name="What we noticed").wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
        boxes = notes.get_by_test_id("stAlert")
        boxes.first.wait_for(state="visible", timeout=LOAD_TIMEOUT_MS)
        seconds = time.perf_counter() - t0
        marks = {k: v - offset for k, v in page.evaluate("() => window.__benchMarks").items()}
        errors = page.locator('[data-testid="stException"]').all_inner_texts()
        if errors:
            raise SystemExit(f"the page shows an error: {errors[0][:300]}")
        if screenshot is not None:
            page.wait_for_timeout(1000)
            page.set_viewport_size({"width": 1280, "height": 2400})
            page.wait_for_timeout(500)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        return seconds, marks, boxes.count()
    finally:
        page.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=90)
    ap.add_argument("--loads", type=int, default=5, help="warm loads (fresh pages, same server)")
    ap.add_argument("--screenshot", type=Path, help="save the last warm page here (PNG)")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} is missing (Debian chromium; .ci/run installs it)")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        work = Path(tmp)
        db = work / "store" / "analyzer.db"
        built, password = build_store(db, args.photos)
        print(f"store with {args.photos} photos built in {built:.1f} s")
        view_s, chart_s, points, flags = time_services(db, password)
        port = free_port()
        proc = start_dashboard(db, port, work / "streamlit.log")
        try:
            url = f"http://127.0.0.1:{port}/"
            with sync_playwright() as pw:
                browser = launch(pw)
                try:
                    context = browser.new_context(viewport={"width": 1280, "height": 1000})
                    cold, cold_marks, boxes = load_once(context, url, password=password)
                    loads = [load_once(context, url, args.screenshot if i == args.loads - 1 else None)
                             for i in range(args.loads)]
                finally:
                    browser.close()
        finally:
            stop(proc)
    warm = [w for w, _, _ in loads]
    med = statistics.median(warm)
    print(f"services alone (median of 5): course_view {view_s:.3f} s, chart JSON {chart_s:.3f} s "
          f"({points} points on the chart, {flags} flag(s); {boxes} box(es) in the flag list)")
    print(f"{'photos':>6} {'cold s':>7} {'warm median s':>14} {'warm max s':>11} {'median / 2 s':>13}")
    print(f"{args.photos:>6} {cold:>7.2f} {med:>14.2f} {max(warm):>11.2f} {med / TARGET_S:>12.2f}x")
    print(f"warm loads: {', '.join(f'{w:.2f}' for w in warm)} s")
    print("in-page milestones, s since navigation start (cold: since the click on Log in; warm median):")
    for k in MARKS:
        got = [m[k] for _, m, _ in loads if k in m]
        w = f"{statistics.median(got):.2f}" if got else "-"
        c = f"{cold_marks[k]:.2f}" if k in cold_marks else "-"
        print(f"  {k:<14} {c:>6} {w:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
