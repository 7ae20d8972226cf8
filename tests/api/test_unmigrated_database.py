"""An API started on a database nobody migrated says how to fix it, and serves once `python -m sql` ran."""

from __future__ import annotations

import subprocess

import pytest

from tests.api.conftest import api_settings, employee, in_process, stand_in_app
from tests.stack import run_module

pytestmark = pytest.mark.anyio


def migrate_with_the_cli(db_url: str) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "sql", timeout=120)


async def test_submitting_before_migrating_answers_503_naming_the_fix_then_serves_after_it(
    empty_db_url: str,
) -> None:
    # A generous pool timeout: on a loaded machine a slow first connection would be another 503.
    async with in_process(stand_in_app(api_settings(empty_db_url, api_pool_timeout_seconds=15))) as client:
        response = await client.post("/predictions/request", json={"features": employee()})
        assert response.status_code == 503, response.text
        assert "python -m sql" in response.json()["detail"], response.text
        assert response.headers["Retry-After"]
        assert "Traceback" not in response.text

        done = migrate_with_the_cli(empty_db_url)
        assert done.returncode == 0, done.stderr

        response = await client.post("/predictions/request", json={"features": employee()})
        assert response.status_code == 202, response.text
        health = await client.get("/health")
        assert health.status_code == 200, health.text


def test_migrating_twice_changes_nothing_the_second_time(empty_db_url: str) -> None:
    first = migrate_with_the_cli(empty_db_url)
    assert first.returncode == 0, first.stderr
    second = migrate_with_the_cli(empty_db_url)
    assert second.returncode == 0, second.stderr
    assert "001_prediction_requests.sql" in first.stdout
    assert "001_prediction_requests.sql" not in second.stdout
