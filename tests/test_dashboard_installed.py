"""``skin-analyzer dashboard`` as docs/deploy.md runs it: from the project installed by ``pip`` in
a fresh virtual environment (the ``installed`` fixture, tests/conftest.py), started from another
folder with no ``PYTHONPATH`` and the clinic's host name allowed.  It must serve the sign-in, its
pages and the documentation the Methods page shows, all from the installed package, and answer
only to the host names it was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.face.model import MODEL_ENV, resolve_model_path
from tests.conftest import bare_env, run
from tests.ui._browser import (
    browser_page,
    free_port,
    log_in,
    main_text,
    needs_chromium,
    page_errors,
    start_process,
    stop,
    wait_healthy,
    websocket_handshake,
)

pytestmark = [pytest.mark.slow, needs_chromium]

CLINIC = "skin.clinic.example"
PASSWORD = "a long enough password"


def test_the_installed_dashboard_serves_its_pages_and_docs_from_another_folder(installed: Path, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = bare_env(**{MODEL_ENV: str(resolve_model_path())})
    # what runs is the installed package: its served script and its copy of the docs
    r = run([installed / "python", "-I", "-c",
             "import analyzer.ui as u, analyzer.ui.services.research as r; print(u.APP); print(r.DOCS)"],
            cwd=outside, env=env)
    app, docs = (Path(line) for line in r.stdout.split())
    assert r.returncode == 0 and app.is_relative_to(installed.parent) and docs.is_relative_to(installed.parent), r.stderr
    assert not docs.is_symlink() and (docs / "metrics.md").is_file()

    db = tmp_path / "db" / "analyzer.db"
    r = run([installed / "skin-analyzer", "users", "add", "admin", "--role", "admin", "--password-stdin", "--db", db],
            cwd=outside, env=env, input=PASSWORD + "\n")
    assert r.returncode == 0, r.stdout + r.stderr

    port = free_port()
    log = tmp_path / "dashboard.log"
    proc = start_process([str(installed / "skin-analyzer"), "dashboard", "--port", str(port),
                          "--allowed-host", CLINIC, "--db", str(db)], env, log, cwd=outside)
    try:
        wait_healthy(port, proc, log)
        # the clinic's name (through its proxy) and loopback are answered; any other name is not
        assert websocket_handshake(port, CLINIC, f"https://{CLINIC}")[0] == 101
        assert websocket_handshake(port, "127.0.0.1", None)[0] == 101
        assert websocket_handshake(port, "evil.example", None)[0] == 403

        with browser_page() as page:
            url = f"http://127.0.0.1:{port}/"
            log_in(page, url, "admin", PASSWORD)
            assert "Audit log" in main_text(page)  # an admin lands on the Admin page
            page.goto(url + "methods")
            text = main_text(page)
            assert "What the six numbers of every region" in text  # docs/metrics.md, from the package
            assert page_errors(page) == []
    finally:
        stop(proc)
    assert "Traceback" not in log.read_text(errors="replace")
