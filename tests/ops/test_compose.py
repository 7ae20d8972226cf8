"""The compose stack runs each process under its least-privilege role.

The container stage (.ci/containers) proves it on running containers (pg_stat_activity); this test
keeps the file itself honest where no Docker engine answers: only migrate holds the owner's
credentials, the api and listener hold their own login only, the dashboard none, and no password is
written in the file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo

from sql.settings import PROJECT_ROOT
from tests.logins import drop_login

COMPOSE = PROJECT_ROOT / "compose.yaml"
SERVICES = yaml.safe_load(COMPOSE.read_text())["services"]
DATABASE_VARS = {"DATABASE_URL", "API_DATABASE_URL", "LISTENER_DATABASE_URL", "PGPASSWORD"}


def env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_only_migrate_holds_the_owner_credentials():
    assert env("migrate")["DATABASE_URL"].startswith("postgresql://futurisys@")
    assert env("migrate")["PGPASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for service in ("api", "listener", "ui"):
        assert "DATABASE_URL" not in env(service), service
        assert "POSTGRES_PASSWORD" not in " ".join(env(service).values()), service


def test_api_and_listener_connect_with_their_own_login_and_password():
    for service, login, password in (
        ("api", "futurisys_compose_api", "API_DB_PASSWORD"),
        ("listener", "futurisys_compose_listener", "LISTENER_DB_PASSWORD"),
    ):
        own = env(service)
        assert own[f"{service.upper()}_DATABASE_URL"].startswith(f"postgresql://{login}@postgres:"), service
        assert re.fullmatch(rf"\$\{{{password}:\?[^}}]+\}}", own["PGPASSWORD"]), service
        assert set(own) & DATABASE_VARS == {f"{service.upper()}_DATABASE_URL", "PGPASSWORD"}, service
        # migrate is handed the same password, to create (or reset) that login
        assert env("migrate")[password].startswith(f"${{{password}:?"), service


def test_the_dashboard_gets_no_database_credentials():
    assert not set(env("ui")) & DATABASE_VARS
    assert env("ui")["FUTURISYS_API_URL"] == "http://api:8000"


def test_no_password_is_written_in_the_file():
    for service, spec in SERVICES.items():
        for name, value in (spec.get("environment") or {}).items():
            if "PASSWORD" in name:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (service, name)


def test_migrate_makes_logins_that_hold_only_their_group(db_url):
    """docker/logins.py, as the migrate service runs it: each login connects with the password it was
    given, is its group's member and no superuser, and is refused what its group may not do."""
    suffix = uuid.uuid4().hex[:8]
    names = {p: f"futurisys_test_compose_{p}_{suffix}" for p in ("api", "listener")}
    environment = {
        **os.environ,
        "DATABASE_URL": db_url,
        "API_DB_PASSWORD": "api-secret",
        "API_DB_USER": names["api"],
        "LISTENER_DB_PASSWORD": "listener-secret",
        "LISTENER_DB_USER": names["listener"],
    }
    try:
        done = subprocess.run(
            [sys.executable, "docker/logins.py"],
            cwd=PROJECT_ROOT,
            env={**environment, "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"api: login role {names['api']} (member of futurisys_api)" in done.stdout
        for process, group, refused in (
            ("api", "futurisys_api", "DELETE FROM prediction_results"),
            ("listener", "futurisys_listener", "SELECT count(*) FROM api_keys"),
        ):
            url = make_conninfo(db_url, user=names[process], password=f"{process}-secret")
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT current_user, rolsuper, pg_has_role(current_user, %s, 'MEMBER'),"
                    " pg_has_role(current_user, 'futurisys_owner', 'MEMBER')"
                    " FROM pg_roles WHERE rolname = current_user",
                    (group,),
                ).fetchone()
                assert row == (names[process], False, True, False)
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(refused)
    finally:
        for name in names.values():
            drop_login(db_url, name)
