"""API keys: required once one exists, stored as SHA-256 only, revocation immediate."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from tests.api.conftest import api_settings, employee, in_process, stand_in_app
from tests.stack import ROOT, free_port, process_env, run_module

pytestmark = pytest.mark.anyio


def keys(db_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "service", "keys", *args, env=env)


async def submit(client: httpx.AsyncClient, key: str | None = None) -> int:
    headers = {"X-API-Key": key} if key else {}
    return (
        await client.post("/predictions/request", json={"features": employee()}, headers=headers)
    ).status_code


async def until_status(client: httpx.AsyncClient, key: str | None, status: int, deadline: float = 30) -> bool:
    """True once a submit answers `status` (the key change travels by NOTIFY), False at the deadline."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if await submit(client, key) == status:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_requests_need_a_valid_key_once_one_exists(db_url: str, conn: psycopg.Connection) -> None:
    async with in_process(stand_in_app(api_settings(db_url))) as client:
        assert await submit(client) == 202  # no key configured yet: open

        created = keys(db_url, "create", "dashboard", "--quiet")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        [(digest, row_text)] = conn.execute("SELECT key_sha256, t::text FROM api_keys t").fetchall()
        assert digest == hashlib.sha256(key.encode()).hexdigest()
        assert key not in row_text

        assert await until_status(client, None, 401)  # once NOTIFY api_keys_changed reaches the app
        assert await submit(client, "fut_wrong") == 401
        assert await submit(client, key) == 202
        batch = await client.post("/predictions/batch", json={"items": [employee()]})
        assert batch.status_code == 401 and "X-API-Key" in batch.json()["detail"]
        assert (await client.get("/predictions/history")).status_code == 401  # reads need a key too
        assert (await client.get("/predictions/history", headers={"X-API-Key": key})).status_code == 200

        listed = keys(db_url, "list")
        assert "dashboard" in listed.stdout and key not in listed.stdout
        assert keys(db_url, "revoke", "dashboard").returncode == 0
        assert await until_status(client, key, 401)
        assert await submit(client) == 401  # revoking the last key does not reopen writes
        assert keys(db_url, "revoke", "dashboard").returncode == 1


async def test_keys_can_be_required_before_any_exists(db_url: str) -> None:
    async with in_process(stand_in_app(api_settings(db_url, api_keys_required=True))) as client:
        assert await submit(client) == 401


def test_prod_refuses_to_start_without_an_api_key(db_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "--port", str(free_port())],
        cwd=ROOT,
        env=process_env(db_url, {"ENV": "prod"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "keys create" in result.stderr
