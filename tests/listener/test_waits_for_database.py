"""A listener started before its database is there keeps trying (it does not exit), serves as soon as the
database appears, and still stops at once with SIGTERM while it is waiting."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql as pgsql

from tests.listener.conftest import LISTENER_ENV
from tests.listener.helpers import all_done, assert_exactly_one_result_each, submit_silently, wait_until
from tests.listener.procs import log_text
from tests.pg import TEST_DB_PREFIX, Databases, database_url
from tests.stack import running_listener, stop
from tests.stand_ins import deploy_stand_ins, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def missing_db(databases: Databases) -> Iterator[str]:
    """The name of a database that does not exist yet (dropped after the test if it came to exist)."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        databases.drop(name)


def appear_with_backlog(databases: Databases, template_db: str, name: str, n: int, store: Path) -> list[int]:
    """Make database `name` exist at one instant, already holding n pending rows that no NOTIFY announced
    and the models of `store` deployed."""
    staging = databases.create(template=template_db)
    deploy_stand_ins(database_url(databases.server_url, staging), store)
    with psycopg.connect(database_url(databases.server_url, staging), autocommit=True) as conn:
        ids = submit_silently(conn, n)
    with psycopg.connect(databases.server_url, autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                pgsql.Identifier(staging), pgsql.Identifier(name)
            )
        )
    databases.created.remove(staging)
    return ids


def test_a_listener_started_before_its_database_exists_serves_the_backlog_once_it_does(
    databases: Databases, template_db: str, missing_db: str, listener_log: Path, stand_in_store: Path
) -> None:
    url = database_url(databases.server_url, missing_db)
    with running_listener(url, env={**serving(stand_in_store), **LISTENER_ENV}, log=listener_log) as proc:
        assert wait_until(lambda: "retrying in" in log_text(listener_log), 90), log_text(listener_log)
        assert proc.poll() is None, log_text(listener_log)

        ids = appear_with_backlog(databases, template_db, missing_db, 100, stand_in_store)

        with psycopg.connect(url, autocommit=True) as conn:
            # The sweep is 60 s after the connect: only the claim that follows it explains this.
            assert wait_until(all_done(conn, ids), 40), log_text(listener_log)
            assert_exactly_one_result_each(conn, 100)
        assert "connected again after" in log_text(listener_log)
        assert proc.poll() is None


def test_sigterm_stops_a_listener_that_is_still_waiting_for_its_database(
    databases: Databases, missing_db: str, listener_log: Path
) -> None:
    url = database_url(databases.server_url, missing_db)
    with running_listener(url, env=LISTENER_ENV, log=listener_log) as proc:
        assert wait_until(lambda: "retrying in" in log_text(listener_log), 90), log_text(listener_log)
        # stop() waits 60 s before it kills: exit code 0 means the signal ended the wait for the database.
        assert stop(proc, signal.SIGTERM) == 0, log_text(listener_log)
