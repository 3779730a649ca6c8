"""How the dashboard is served: every Streamlit setting it runs with, written once here, and the
call that starts Streamlit on :data:`analyzer.ui.APP` (``skin-analyzer dashboard``,
:mod:`analyzer.cli.dashboard`).

The settings are passed to Streamlit as command-line flags, which take precedence over any
``.streamlit/config.toml`` and ``STREAMLIT_*`` variable, so the installed command serves the
same way from any folder.  A clinic adds its own host names (``--allowed-host``) and its
sign-in secrets (``--secrets``); Streamlit settings not listed here (``server.baseUrlPath``,
``server.sslCertFile``...) can still come from ``STREAMLIT_*`` variables (docs/deploy.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from analyzer.settings import DASHBOARD_ADDRESS, DASHBOARD_PORT, MAX_UPLOAD_MB
from analyzer.ui import APP

__all__ = ["LOOPBACK_HOSTS", "options", "serve", "streamlit_argv"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
"""Host names the dashboard always answers to.  A WebSocket whose ``Host`` header names anything
else (a DNS-rebinding page that resolves its own name to 127.0.0.1) is refused before a single
message (docs/security.md)."""

MAX_MESSAGE_MB = 200
"""Largest message between the browser and the server, MB (a page of overlays for a long course)."""

THEME = {
    "base": "light",
    "primaryColor": "#2f7d6d",
    "backgroundColor": "#fbfaf8",
    "secondaryBackgroundColor": "#f1efe9",
    "textColor": "#22302c",
    "font": "sans serif",
}


def options(address: str = DASHBOARD_ADDRESS, port: int = DASHBOARD_PORT, *, allowed_hosts: Sequence[str] = (),
            secrets: str | Path | None = None) -> dict[str, object]:
    """The Streamlit settings of the dashboard, by Streamlit's option names.

    ``allowed_hosts`` are host names the dashboard answers to besides :data:`LOOPBACK_HOSTS` (the
    clinic's own name behind its reverse proxy); ``secrets`` is a ``secrets.toml`` with the
    clinic's ``[auth]`` section (else Streamlit's own places: ``~/.streamlit`` and the working
    folder's ``.streamlit``).
    """
    hosts = list(dict.fromkeys([*LOOPBACK_HOSTS, *(h.strip() for h in allowed_hosts if h.strip())]))
    opts: dict[str, object] = {
        "server.address": address,
        "server.port": port,
        "server.headless": True,
        "server.maxUploadSize": MAX_UPLOAD_MB,
        "server.maxMessageSize": MAX_MESSAGE_MB,
        "server.enableXsrfProtection": True,
        "server.enableCORS": True,  # WebSockets only from the page's own origin
        "server.allowedHosts": hosts,
        "server.fileWatcherType": "none",
        "server.runOnSave": False,
        "browser.gatherUsageStats": False,
        "client.toolbarMode": "minimal",
        "client.showErrorDetails": "none",  # never a traceback in front of a patient
        **{f"theme.{k}": v for k, v in THEME.items()},
    }
    if secrets is not None:
        opts["secrets.files"] = [str(Path(secrets).resolve())]
    return opts


def streamlit_argv(opts: dict[str, object]) -> list[str]:
    """``streamlit run`` arguments for :data:`analyzer.ui.APP` with ``opts`` as flags (a list
    option is given once per value; booleans as ``true``/``false``).

    >>> streamlit_argv({"server.port": 8501, "server.headless": True, "server.allowedHosts": ["a", "b"]})[2:]
    ['--server.port', '8501', '--server.headless', 'true', '--server.allowedHosts', 'a', '--server.allowedHosts', 'b']
    """
    argv = ["run", str(APP)]
    for key, value in opts.items():
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{key}", str(v).lower() if isinstance(v, bool) else str(v)]
    return argv


def serve(opts: dict[str, object]) -> int:
    """Serve the dashboard in this process until it is stopped (Ctrl+C, SIGTERM); returns the
    exit status."""
    from streamlit.web import cli as streamlit_cli

    try:
        streamlit_cli.main(streamlit_argv(opts), prog_name="streamlit", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0  # pragma: no cover - standalone_mode always exits

