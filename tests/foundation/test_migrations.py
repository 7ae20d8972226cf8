"""The schema runner: applies each file once, in order, and refuses a changed history."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from sql.migrate import SCHEMA_DIR, SchemaDrift, migrate, pending_migrations
from tests.pg import Databases, database_url


@pytest.fixture
def empty_db(databases: Databases) -> str:
    name = databases.create()
    yield database_url(databases.server_url, name)
    databases.drop(name)


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    target = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, target)
    return target


def test_runner_refuses_a_schema_file_edited_after_it_was_applied(empty_db: str, schema_copy: Path) -> None:
    migrate(empty_db, schema_copy)
    first = sorted(schema_copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(SchemaDrift, match=first.name):
        migrate(empty_db, schema_copy)


def test_second_run_applies_only_new_files(empty_db: str, schema_copy: Path) -> None:
    assert len(migrate(empty_db, schema_copy)) == len(list(schema_copy.glob("*.sql")))
    (schema_copy / "999_extra.sql").write_text("COMMENT ON TABLE prediction_requests IS 'changed';")
    assert migrate(empty_db, schema_copy) == ["999_extra.sql"]
    with psycopg.connect(empty_db) as conn:
        assert pending_migrations(conn, schema_copy) == []


def test_two_runners_started_together_apply_each_file_exactly_once(empty_db: str, schema_copy: Path) -> None:
    # A slow file widens the window in which the two runners overlap.
    (schema_copy / "000_slow.sql").write_text("SELECT pg_sleep(0.5);")
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_db, schema_copy))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    files = sorted(p.name for p in schema_copy.glob("*.sql"))
    assert sorted(results, key=len) == [[], files]
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT filename FROM schema_migrations ORDER BY filename").fetchall()
    assert [r[0] for r in rows] == files


# Files renumbered (byte for byte) after databases had applied them: (name then, name now).
RENUMBERED = [
    ("006_api.sql", "005_api_key_notifications.sql"),
    ("008_subject_ref_and_outcomes.sql", "007_subject_ref_and_outcomes.sql"),
    ("009_outcome_matching.sql", "008_outcome_matching.sql"),
    ("013_explanations.sql", "009_explanations.sql"),
]


def test_a_database_that_applied_files_under_their_old_numbers_migrates_without_reapplying(
    db_url: str, conn: psycopg.Connection
) -> None:
    # What such a database holds: the same files and checksums, under the names they had then.
    with conn.transaction():
        for old, new in RENUMBERED:
            conn.execute("UPDATE schema_migrations SET filename = %s WHERE filename = %s", [old, new])
    applied = dict(conn.execute("SELECT filename, checksum FROM schema_migrations").fetchall())
    assert {old for old, _ in RENUMBERED} <= applied.keys()

    assert migrate(db_url) == []  # nothing applied again: the bootstrap told it the new names
    now = dict(conn.execute("SELECT filename, checksum FROM schema_migrations").fetchall())
    renamed = dict(RENUMBERED)
    assert now == {renamed.get(name, name): checksum for name, checksum in applied.items()}
    assert sorted(now) == sorted(p.name for p in SCHEMA_DIR.glob("*.sql"))
