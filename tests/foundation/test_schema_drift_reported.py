"""A database whose schema history disagrees with sql/schema/ (a newer release migrated it, or an applied
file was edited): `python -m sql` refuses to touch it and says why, and the API's /health says drift."""

from __future__ import annotations

import subprocess

import httpx
import psycopg
import pytest

from tests.api.conftest import api_settings, in_process, stand_in_app
from tests.stack import run_module


def migrate_with_the_cli(db_url: str) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "sql", timeout=120)


async def health(db_url: str) -> httpx.Response:
    async with in_process(stand_in_app(api_settings(db_url))) as client:
        return await client.get("/health")


@pytest.mark.anyio
async def test_a_database_migrated_by_a_newer_release_is_refused_and_reported(
    db_url: str, conn: psycopg.Connection
) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (filename, checksum) VALUES ('999_from_a_newer_release.sql', %s)",
        ["0" * 64],
    )
    done = migrate_with_the_cli(db_url)
    assert done.returncode == 1
    assert "refusing to migrate" in done.stderr and "999_from_a_newer_release.sql" in done.stderr
    assert "Traceback" not in done.stderr

    response = await health(db_url)
    assert response.status_code == 503
    assert response.json()["migrations"] == "drift"
    assert "999_from_a_newer_release.sql" in response.json()["detail"]


@pytest.mark.anyio
async def test_an_applied_schema_file_that_changed_is_refused_and_reported(
    db_url: str, conn: psycopg.Connection
) -> None:
    # As if 001 had been edited after this database applied it: the recorded checksum no longer matches.
    conn.execute(
        "UPDATE schema_migrations SET checksum = %s WHERE filename = '001_prediction_requests.sql'",
        ["0" * 64],
    )
    done = migrate_with_the_cli(db_url)
    assert done.returncode == 1
    assert "001_prediction_requests.sql changed after it was applied" in done.stderr
    assert "add a new numbered file" in done.stderr

    response = await health(db_url)
    assert response.status_code == 503
    assert response.json()["migrations"] == "drift"
