"""The test stack runs each process under its own LOGIN role, as a deployment does.

One login role per group (api, listener, analyst, owner) per test session and server, made on first
use, dropped when the session ends (conftest.py). A grant the code needs and schema 014 forgot fails a
test instead of a deployment.
"""

from __future__ import annotations

import contextlib
import uuid

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sql.logins import ensure_login, new_password

LOGIN_PREFIX = "futurisys_test_login_"
_SESSION = uuid.uuid4().hex[:8]
_PASSWORD = new_password()
#: (host, port) of a server -> {process: conninfo of the login role}
_made: dict[tuple[str, str], dict[str, str]] = {}
#: (host, port) of a server -> the superuser conninfo that made them
_admins: dict[tuple[str, str], str] = {}


def drop_login(admin_url: str, login: str) -> None:
    """Drop a LOGIN role made by sql.logins.ensure_login (it owns nothing and holds only its membership)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP ROLE IF EXISTS {}").format(pgsql.Identifier(login)))


def login_name(process: str) -> str:
    return f"{LOGIN_PREFIX}{_SESSION}_{process}"


def _server(db_url: str) -> tuple[str, str]:
    params = conninfo_to_dict(db_url)
    return str(params.get("host") or ""), str(params.get("port") or "5432")


def login_url(db_url: str, process: str) -> str:
    """The conninfo of `db_url`'s database as this session's `process` login role (made if needed).

    Raises psycopg.OperationalError when the server does not answer.
    """
    server = _server(db_url)
    made = _made.setdefault(server, {})
    _admins.setdefault(server, db_url)
    if process not in made:
        made[process] = ensure_login(db_url, login_name(process), process, _PASSWORD)
    dbname = conninfo_to_dict(db_url).get("dbname")
    return make_conninfo(made[process], dbname=dbname)


def process_urls(db_url: str) -> dict[str, str]:
    """API_DATABASE_URL and LISTENER_DATABASE_URL for processes on `db_url`; {} when its server is down
    (processes started against a stopped server then use DATABASE_URL, as the test means them to)."""
    try:
        return {
            "API_DATABASE_URL": login_url(db_url, "api"),
            "LISTENER_DATABASE_URL": login_url(db_url, "listener"),
        }
    except psycopg.OperationalError:
        return {}


def drop_session_logins() -> None:
    """Drop every login role this session made, on every server still up."""
    for server, made in _made.items():
        admin = make_conninfo(_admins[server], dbname="postgres")
        for process in made:
            with contextlib.suppress(psycopg.Error):  # a server stopped since (its roles went with it)
                drop_login(admin, login_name(process))
    _made.clear()
    _admins.clear()
