"""LOGIN roles in the group roles, so each process connects as itself (`make run`, the test stack).

A DBA does the same by hand (docs/database-roles.md); this module is for the stacks this project
starts itself, where whoever runs them holds a superuser (or CREATEROLE) connection.
"""

from __future__ import annotations

import contextlib
import secrets

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from sql.migrate import GROUP_ROLES
from sql.named_queries import QUERIES

#: The group role each process logs in through.
GROUPS = {
    "owner": "futurisys_owner",
    "api": "futurisys_api",
    "listener": "futurisys_listener",
    "analyst": "futurisys_analyst",
}


def new_password() -> str:
    return secrets.token_urlsafe(24)


def ensure_login(admin_url: str, login: str, process: str, password: str) -> str:
    """Create (or reset) LOGIN role `login` as a member of `process`'s group; return its conninfo.

    `admin_url` must be allowed to create roles; the groups are created too when missing.
    """
    group = GROUPS[process]
    name, secret = pgsql.Identifier(login), pgsql.Literal(password)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(GROUP_ROLES.read_text())
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(QUERIES["role_exists"], {"role": login}).fetchone()
        if not (row and row["exists"]):
            # Another process may create it at this very moment: its password is set below either way.
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(name, secret))
        conn.execute(pgsql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, secret))
        conn.execute(pgsql.SQL("GRANT {} TO {}").format(pgsql.Identifier(group), name))
    return make_conninfo(admin_url, user=login, password=password)
