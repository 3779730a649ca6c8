"""``python -m analyzer users add|assign|list|disable|invite`` (docs/security.md): parse, call, print.

The command line acts as :meth:`analyzer.service.access.Actor.operator` (admin rights, audited
under the operating-system account's name) and calls :mod:`analyzer.service.users`.

``add LOGIN --role ROLE [--patient P] [--password-stdin] [--oidc-subject SUB]``: without
``--password-stdin`` and ``--oidc-subject`` a password is made and printed once; with
``--password-stdin`` the first line of standard input is the password.  ``invite`` prints the
one-time code and when it expires.  No password hash is ever printed.

Exit status: 0 on success; 1 when the store refuses (``error: ...`` on stderr); 2 for usage errors.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TextIO

from ..errors import AnalyzerError
from ..service.access import Actor
from ..store.db import open_store
from ..store.records import now

__all__ = ["run_users_command"]


def run_users_command(args, out: TextIO) -> int:
    """Run ``users ACTION`` from parsed arguments; returns the exit status."""
    from ..service import users

    actor = Actor.operator()
    password = None
    if args.users_command == "add" and args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("python -m analyzer users add: error: no password on standard input "
                  "(leave out --password-stdin to have one made)", file=sys.stderr)
            return 2
    try:
        with open_store(args.db) as store:
            if args.users_command == "add":
                made = password is None and not args.oidc_subject
                if made:
                    password = users.new_password()
                info = users.add_user(store, args.login, args.role, actor=actor, patient=args.patient,
                                      password=password, oidc_subject=args.oidc_subject)
                tied = f", patient {info.patient}" if info.patient else ""
                out.write(f"added {info.login} (role {info.role}{tied})\n")
                if made:
                    out.write(f"password for {info.login} (shown once): {password}\n")
            elif args.users_command == "assign":
                users.assign(store, args.login, args.patient, actor=actor)
                out.write(f"assigned {args.patient} to {args.login}\n")
            elif args.users_command == "list":
                _print_table(users.list_users(store, actor=actor), out)
            elif args.users_command == "disable":
                users.set_disabled(store, args.login, True, actor=actor)
                out.write(f"disabled {args.login} (its sessions ended)\n")
            elif args.users_command == "invite":
                at = now()
                code = users.create_invite(store, args.patient, actor=actor, now=at)
                expires = at + timedelta(seconds=users.INVITE_VALID_S)
                out.write(f"invite code for {args.patient}: {code}\n"
                          f"it works once, until {expires:%Y-%m-%d %H:%M} UTC; the patient enters it with a "
                          f"username and password of their own on the dashboard's sign-in page\n")
            else:  # the parser allows no other
                raise AssertionError(args.users_command)
    except AnalyzerError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 1
    return 0


def _print_table(infos, out: TextIO) -> None:
    header = ("login", "role", "patient", "caseload", "disabled", "sign-in")
    rows = [header]
    for u in infos:
        via = "+".join(w for w, on in (("password", u.password), ("oidc", u.oidc)) if on) or "-"
        rows.append((u.login, u.role, u.patient or "-", ",".join(u.caseload) or "-",
                     "yes" if u.disabled else "no", via))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out.writelines("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)
    if len(rows) == 1:
        out.write("(no accounts yet: python -m analyzer users add LOGIN --role ROLE)\n")
