"""``skin-analyzer dashboard``: its options, the settings it gives Streamlit, and the refusals
before anything is served (a missing model, an unreachable store, a missing secrets file).  The
server itself is started in tests/test_dashboard_installed.py and the browser tests."""

from __future__ import annotations

import io
import os

import pytest

from analyzer.cli import main
from analyzer.face.model import MODEL_ENV
from analyzer.settings import MAX_UPLOAD_MB
from analyzer.store.db import ENV_URL
from analyzer.ui import APP, page_path
from analyzer.ui import server as server_module
from analyzer.ui.server import LOOPBACK_HOSTS, options, streamlit_argv


@pytest.fixture
def served(monkeypatch):
    """Replace Streamlit with a recorder: the options ``serve`` was called with."""
    calls = []
    monkeypatch.setattr(server_module, "serve", lambda opts: calls.append(opts) or 0)
    monkeypatch.delenv(ENV_URL, raising=False)
    return calls


def test_the_command_checks_the_store_and_serves_with_the_clinic_settings(served, tmp_path, monkeypatch):
    db = tmp_path / "store" / "a.db"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[auth]\n")
    out = io.StringIO()
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://nobody@127.0.0.1:1/none")  # --db wins over it
    assert main(["dashboard", "--port", "8600", "--allowed-host", "skin.clinic.example",
                 "--allowed-host", "localhost", "--secrets", str(secrets), "--db", str(db)], stdout=out) == 0
    assert db.is_file()  # created and migrated before serving
    (opts,) = served
    assert opts["server.address"] == "127.0.0.1" and opts["server.port"] == 8600
    assert opts["server.allowedHosts"] == [*LOOPBACK_HOSTS, "skin.clinic.example"]
    assert opts["secrets.files"] == [str(secrets.resolve())]
    assert opts["server.maxUploadSize"] == MAX_UPLOAD_MB
    assert opts["client.showErrorDetails"] == "none" and opts["server.enableXsrfProtection"] is True
    # the pages open the same store: the server process's environment names it
    assert os.environ[ENV_URL] == f"sqlite:///{db.resolve()}"
    assert out.getvalue() == "dashboard: http://127.0.0.1:8600  (Ctrl+C to stop)\n"


def test_defaults_are_loopback_and_no_secrets(served, tmp_path):
    assert main(["dashboard", "--db", str(tmp_path / "a.db")], stdout=io.StringIO()) == 0
    (opts,) = served
    assert (opts["server.address"], opts["server.port"]) == ("127.0.0.1", 8501)
    assert opts["server.allowedHosts"] == list(LOOPBACK_HOSTS) and "secrets.files" not in opts


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1"])
def test_a_port_that_is_not_one_is_a_usage_error(port, capsys):
    with pytest.raises(SystemExit) as e:
        main(["dashboard", "--port", port])
    assert e.value.code == 2
    assert f"argument --port: '{port}' is not a port number (1-65535)" in capsys.readouterr().err


def test_a_missing_secrets_file_is_refused_before_serving(served, tmp_path, capsys):
    assert main(["dashboard", "--secrets", str(tmp_path / "nope.toml"), "--db", str(tmp_path / "a.db")]) == 1
    assert capsys.readouterr().err == (f"error: {tmp_path / 'nope.toml'}: there is no such secrets file. give the "
                                       "path of the secrets.toml holding the [auth] section\n")
    assert served == [] and not (tmp_path / "a.db").exists()


def test_a_missing_model_is_refused_before_serving(served, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "face_landmarker.task"))
    assert main(["dashboard", "--db", str(tmp_path / "a.db")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'face_landmarker.task'}: {MODEL_ENV} points to this file, but it "
                          "does not exist") and err.count("\n") == 1
    assert served == []


def test_an_unreachable_store_is_one_line_and_nothing_is_served(served, capsys):
    assert main(["dashboard", "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert served == []


def test_streamlit_gets_every_setting_as_a_flag_for_the_packaged_script():
    argv = streamlit_argv(options("127.0.0.1", 8600, allowed_hosts=["a.example"]))
    assert argv[:2] == ["run", str(APP)] and APP.is_file()
    flags = dict(zip(argv[2::2], argv[3::2], strict=True))  # the last value of a repeated flag
    assert flags["--server.headless"] == "true" and flags["--server.fileWatcherType"] == "none"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--server.allowedHosts"] == [*LOOPBACK_HOSTS, "a.example"]


def test_page_paths_are_the_packaged_scripts_and_unknown_pages_are_refused():
    assert page_path("patient").endswith("analyzer/ui/pages/patient.py")
    with pytest.raises(ValueError, match=r"no dashboard page 'nope' \(analyzer/ui/pages/nope.py\)"):
        page_path("nope")
