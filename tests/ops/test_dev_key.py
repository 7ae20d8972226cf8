"""`make run` keeps one development key, in a file only its owner can read."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg

from service.keys_cli import DEV_KEY_PREFIX, development_key
from service.repository.api_keys import create_key


def active_development_keys(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM api_keys WHERE starts_with(name, %s) AND revoked_at IS NULL", [DEV_KEY_PREFIX]
    )
    return [name for (name,) in rows]


def test_runs_reuse_one_key_written_for_the_owner_only(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    key_file = tmp_path / "run" / "api-key"
    key, created = development_key(db_url, key_file)
    assert created
    assert key_file.read_text() == key + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for _ in range(3):
        assert development_key(db_url, key_file) == (key, False)
    assert len(active_development_keys(conn)) == 1
    # The dashboard make run starts with it submits and reads every request; it administers nothing.
    assert conn.execute("SELECT scopes FROM api_keys").fetchall() == [(["submit", "read"],)]


def test_a_lost_or_revoked_key_is_replaced_and_the_old_ones_revoked(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    # Before the fix every run created one more: three are active, the file holds the last.
    for n in range(3):
        create_key(conn, f"{DEV_KEY_PREFIX}old-{n}")
    create_key(conn, "someone-else")
    key_file = tmp_path / "api-key"
    key_file.write_text("fut_not-a-key-of-this-database\n")
    key_file.chmod(0o644)
    key, created = development_key(db_url, key_file)
    assert created and key_file.read_text() == key + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(active_development_keys(conn)) == 1
    # A key that is not make run's stays active.
    assert conn.execute("SELECT revoked_at IS NULL FROM api_keys WHERE name = 'someone-else'").fetchone() == (
        True,
    )
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL")
    replaced, created = development_key(db_url, key_file)
    assert created and replaced != key
    assert len(active_development_keys(conn)) == 1
