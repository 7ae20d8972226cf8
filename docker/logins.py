"""The compose stack's LOGIN roles, made by the migrate service (owner connection, DATABASE_URL).

For each process whose password is set (API_DB_PASSWORD, LISTENER_DB_PASSWORD), create or reset its
login (API_DB_USER, default futurisys_compose_api; LISTENER_DB_USER, default futurisys_compose_listener)
as a member of its group role (futurisys_api, futurisys_listener): the api and listener services then
connect as those and hold only their group's rights (sql/grants.sql). Passwords come from the
environment at start, never from the image.
"""

from __future__ import annotations

import os
import sys

from sql.logins import GROUPS, ensure_login

LOGINS = {"api": "futurisys_compose_api", "listener": "futurisys_compose_listener"}


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("no DATABASE_URL: no login roles made")
        return 0
    for process, default in LOGINS.items():
        password = os.environ.get(f"{process.upper()}_DB_PASSWORD")
        if not password:
            print(f"{process}: no {process.upper()}_DB_PASSWORD, no login made (it uses DATABASE_URL)")
            continue
        login = os.environ.get(f"{process.upper()}_DB_USER") or default
        ensure_login(url, login, process, password)
        print(f"{process}: login role {login} (member of {GROUPS[process]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
