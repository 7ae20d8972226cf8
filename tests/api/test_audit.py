"""The audit trail through the API and the keys CLI: who did what, read by admin keys."""

from __future__ import annotations

import getpass
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from service.repository.api_keys import create_key
from sql.named_queries import QUERIES
from tests.api.conftest import api_settings, in_process, stand_in_app
from tests.stack import run_module

pytestmark = pytest.mark.anyio


def keys_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "service", "keys", *args)


def events(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT actor, action, subject FROM audit_events ORDER BY id").fetchall()


def promote(conn: psycopg.Connection, version: str, actor: str, details: dict) -> None:
    """Deploy `version` of logistic (registered if new), as the model_store CLI does, stating who and why."""
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, feature_schema)"
        " VALUES ('logistic', %s, 'logistic.joblib', %s, '1.0', '{}') ON CONFLICT DO NOTHING",
        (version, version[0] * 64),
    )
    with conn.transaction():
        conn.execute("SELECT set_audit_context(%s, %s)", (actor, json.dumps(details)))
        conn.execute(
            "INSERT INTO model_deployments (model_name, version) VALUES ('logistic', %(v)s)"
            " ON CONFLICT (model_name) DO UPDATE SET version = %(v)s",
            {"v": version},
        )


def test_the_keys_cli_gives_scopes_and_the_trail_names_the_os_user(
    db_url: str, conn: psycopg.Connection
) -> None:
    both = keys_cli(db_url, "create", "dashboard", "--scope", "read", "--scope", "submit")
    assert both.returncode == 0, both.stderr
    assert both.stdout.count("\n") == 1 and both.stdout.startswith("fut_"), "the key alone on stdout"
    assert keys_cli(db_url, "create", "ops", "--scope", "admin,read").returncode == 0
    assert keys_cli(db_url, "create", "client").returncode == 0
    unknown = keys_cli(db_url, "create", "root", "--scope", "root")
    assert unknown.returncode == 2 and "unknown scope 'root'" in unknown.stderr and unknown.stdout == ""
    assert keys_cli(db_url, "revoke", "client").returncode == 0

    listed = keys_cli(db_url, "list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        ["dashboard", "submit,read"],
        ["ops", "read,admin"],
        ["client", "submit"],
    ]
    assert "revoked" in listed[2] and both.stdout.strip() not in "\n".join(listed)
    me = f"cli:{getpass.getuser()}"
    assert events(conn) == [
        (me, "key.created", "dashboard"),
        (me, "key.created", "ops"),
        (me, "key.created", "client"),
        (me, "key.revoked", "client"),
    ]


@pytest.fixture
def trail(conn: psycopg.Connection) -> dict[str, str]:
    """Keys for every scope, and a history: logistic deployed, promoted, rolled back."""
    made = {name: create_key(conn, name, [scope]) for name, scope in [
        ("ops", "admin"), ("analyst", "read"), ("client", "submit"),
    ]}  # fmt: skip
    promote(conn, "a1", "cli:alice", {"reason": "first"})
    promote(conn, "b2", "cli:alice", {"reason": "better CV", "evidence": {"p_value": 0.001}})
    promote(conn, "a1", "cli:bob", {"action": "model.rolled_back", "reason": "live ROC-AUC fell"})
    return made


async def test_admin_keys_read_the_whole_trail_newest_first(db_url: str, trail: dict[str, str]) -> None:
    async with in_process(stand_in_app(api_settings(db_url))) as api:
        response = await api.get("/audit", headers={"X-API-Key": trail["ops"]})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [(e["actor"], e["action"], e["subject"]) for e in items[:3]] == [
        ("cli:bob", "model.rolled_back", "logistic"),
        ("cli:alice", "model.promoted", "logistic"),
        ("cli:alice", "model.deployed", "logistic"),
    ]
    assert [(e["action"], e["subject"]) for e in items[3:]] == [
        ("key.created", "client"),
        ("key.created", "analyst"),
        ("key.created", "ops"),
    ]
    assert items[0]["details"] == {"from_version": "b2", "to_version": "a1", "reason": "live ROC-AUC fell"}
    assert items[1]["details"]["evidence"] == {"p_value": 0.001}


async def test_the_trail_filters_by_action_and_time_and_pages(db_url: str, trail: dict[str, str]) -> None:
    ops = {"X-API-Key": trail["ops"]}
    async with in_process(stand_in_app(api_settings(db_url))) as api:
        moves = {"action": ["model.promoted", "model.rolled_back"], "limit": 1}
        first = (await api.get("/audit", params=moves, headers=ops)).json()
        second = (
            await api.get("/audit", params={**moves, "before": first["next_before"]}, headers=ops)
        ).json()
        future = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        later = (await api.get("/audit", params={"since": future}, headers=ops)).json()
        bad = await api.get("/audit", params={"action": "DROP TABLE"}, headers=ops)
    assert [e["action"] for e in first["items"] + second["items"]] == ["model.rolled_back", "model.promoted"]
    assert second["next_before"] is None
    assert later == {"items": [], "next_before": None}
    assert bad.status_code == 400 and "area.verb" in bad.json()["detail"]


async def test_only_admin_keys_read_everything_read_keys_the_model_events(
    db_url: str, trail: dict[str, str]
) -> None:
    async with in_process(stand_in_app(api_settings(db_url))) as api:
        nobody = await api.get("/audit")
        client = await api.get("/audit", headers={"X-API-Key": trail["client"]})
        analyst = {"X-API-Key": trail["analyst"]}
        everything = await api.get("/audit", headers=analyst)
        keys = await api.get("/audit", params={"action": "key.created"}, headers=analyst)
        models = await api.get(
            "/audit", params={"action": ["model.promoted", "model.rolled_back"]}, headers=analyst
        )
    assert nobody.status_code == 401 and "scope admin or read" in nobody.json()["detail"]
    assert client.status_code == 403
    assert client.json()["detail"] == "key 'client' has scope submit; this endpoint needs scope admin or read"
    for refused in (everything, keys):
        assert refused.status_code == 403 and "every event needs scope admin" in refused.json()["detail"]
    assert models.status_code == 200 and len(models.json()["items"]) == 2


async def test_the_trail_needs_an_admin_key_even_before_keys_are_in_use(client: httpx.AsyncClient) -> None:
    assert (await client.get("/predictions/history")).status_code == 200  # open: no key exists
    refused = await client.get("/audit")
    assert refused.status_code == 401 and "missing X-API-Key" in refused.json()["detail"]


@asynccontextmanager
async def acting_as(
    pool: AsyncConnectionPool, actor: str, details: dict[str, Any] | None = None
) -> AsyncIterator[psycopg.AsyncConnection]:
    """A transaction on the API's pool whose audited changes (triggers, audit()) name `actor` and carry
    `details`, as an admin action through the API states them (query state_audit_actor)."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute(
            QUERIES["state_audit_actor"], {"actor": actor, "details": json.dumps(details or {})}
        )
        yield conn


async def test_an_admin_action_through_the_api_names_its_key_as_the_actor(
    db_url: str, conn: psycopg.Connection
) -> None:
    ops = create_key(conn, "ops", ["admin"])
    app = stand_in_app(api_settings(db_url))
    async with in_process(app) as api:
        async with acting_as(app.state.services.pool, "key:ops", {"reason": "subject asked"}) as tx:
            await tx.execute("SELECT audit('data.erased', NULL, '{\"requests\": 2}')")
        erased = (
            await api.get("/audit", params={"action": "data.erased"}, headers={"X-API-Key": ops})
        ).json()
    [event] = erased["items"]
    assert (event["actor"], event["details"]) == ("key:ops", {"reason": "subject asked", "requests": 2})
