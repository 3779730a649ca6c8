"""``python -m ui.seed_demo [--db PATH_OR_URL]``: load the demo patients into an empty store.

Used by ``./run.sh`` before it starts the dashboard, so a newcomer's first screen is a full
recovery chart.  A store that already has patients is left alone (exit 0, one line said).
"""

from __future__ import annotations

import argparse
import sys

from analyzer.errors import plain_message
from analyzer.service.analyzers import open_analyzer
from ui.services.common import DEMO_PATIENTS, load_demo, open_app_store, store_is_empty


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ui.seed_demo", description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database file or SQLAlchemy URL (default: $ANALYZER_DB_URL or data/analyzer.db)")
    args = ap.parse_args(argv)
    try:
        with open_app_store(args.db) as store:
            if not store_is_empty(store):
                print("the store already has patients: demo not loaded")
                return 0
            with open_analyzer() as az:
                n = load_demo(store, az)
    except Exception as e:  # noqa: BLE001 - one plain line, never a traceback
        print(f"error: {plain_message(e)}", file=sys.stderr)
        return 1
    print(f"demo patients loaded: {len(DEMO_PATIENTS)} patients, {n} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
