"""``python -m analyzer.ui.seed_demo [--db PATH_OR_URL]``: load the demo patients and accounts into an empty
store.

Used by ``./run.sh`` before it starts the dashboard, so a newcomer's first screen is a sign-in
that leads to a full recovery chart.  On an empty store it loads the four demo patients (care and
research consent recorded by the operator) and makes three accounts, each with a fresh random
password printed once: ``demo-practitioner`` (caseload: every demo patient), ``demo-patient``
(DEMO-1's own account) and ``demo-admin``.  A store that already has patients is left alone
(exit 0, one line said, no password).
"""

from __future__ import annotations

import argparse
import sys

from analyzer.errors import plain_message
from analyzer.service.access import Actor
from analyzer.service.analyzers import open_analyzer
from analyzer.service.users import add_user, assign, new_password
from analyzer.store.db import Store
from analyzer.ui.services.common import (
    DEMO_PATIENTS,
    has_active_account,
    load_demo,
    open_app_store,
    store_is_empty,
)

DEMO_ACCOUNTS = (("demo-practitioner", "practitioner", None),
                 ("demo-patient", "patient", DEMO_PATIENTS[0].pseudonym),
                 ("demo-admin", "admin", None))
"""(login, role, patient) of the demo accounts."""


def demo_accounts(store: Store, actor: Actor) -> list[tuple[str, str, str]]:
    """Make the demo accounts (practitioner of every demo patient, DEMO-1's patient account, an
    admin), each with a fresh random password; returns (login, role, password)."""
    out = []
    for login, role, patient in DEMO_ACCOUNTS:
        password = new_password()
        add_user(store, login, role, actor=actor, patient=patient, password=password)
        out.append((login, role, password))
    for d in DEMO_PATIENTS:
        assign(store, "demo-practitioner", d.pseudonym, actor=actor)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analyzer.ui.seed_demo", description=__doc__.splitlines()[0])
    ap.add_argument("--db",
                    help="database file or SQLAlchemy URL (default: $ANALYZER_DB_URL or data/analyzer.db)")
    args = ap.parse_args(argv)
    operator = Actor.operator()
    try:
        with open_app_store(args.db) as store:
            if not store_is_empty(store):
                print("the store already has patients: demo not loaded")
                if not has_active_account(store):
                    print("no account can sign in yet: add one with "
                          "python -m analyzer users add LOGIN --role admin")
                return 0
            with open_analyzer() as az:
                n = load_demo(store, az, actor=operator)
            accounts = [] if has_active_account(store) else demo_accounts(store, operator)
    except Exception as e:  # noqa: BLE001 - one plain line, never a traceback
        print(f"error: {plain_message(e)}", file=sys.stderr)
        return 1
    print(f"demo patients loaded: {len(DEMO_PATIENTS)} patients, {n} photos")
    if accounts:
        print("Sign in with one of these (shown once):")
        for login, role, password in accounts:
            print(f"  {role:<13} username {login:<18} password {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
