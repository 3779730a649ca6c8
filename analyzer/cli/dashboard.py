"""``skin-analyzer dashboard [--address A] [--port N] [--allowed-host NAME]... [--secrets FILE] [--db URL]``:
serve the dashboard from the installed package (docs/deploy.md).

Before Streamlit starts, the command opens the store (creating or migrating it) and checks the
face landmark model, so a wrong database address or a missing model is one ``error:`` line and
exit 1, not a dashboard that fails for its first visitor.  Then Streamlit serves
:data:`analyzer.ui.APP` in this process with the settings of :mod:`analyzer.ui.server` until it is
stopped (Ctrl+C or SIGTERM: exit 0).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from ..errors import AnalyzerError

__all__ = ["run_dashboard_command"]


def run_dashboard_command(args, out: TextIO) -> int:
    """Check the store, the model and the secrets file, then serve; returns the exit status."""
    from ..face.model import resolve_model_path
    from ..store.db import ENV_URL, open_store, resolve_url
    from ..ui.server import options, serve

    try:
        if args.secrets is not None and not Path(args.secrets).is_file():
            raise AnalyzerError(args.secrets, "there is no such secrets file",
                                "give the path of the secrets.toml holding the [auth] section")
        resolve_model_path()
        with open_store(args.db):
            pass
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    if args.db is not None:
        # The dashboard's pages open the store from the environment (analyzer.ui.state.store).
        os.environ[ENV_URL] = resolve_url(args.db)
    address, port = args.address, args.port
    print(f"dashboard: http://{address}:{port}  (Ctrl+C to stop)", file=out, flush=True)
    return serve(options(address, port, allowed_hosts=args.allowed_host, secrets=args.secrets))
