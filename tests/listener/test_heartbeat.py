"""The heartbeat row's totals: what the Monitoring page shows as a listener's `processed`."""

from __future__ import annotations

import psycopg

from tests.listener.helpers import FakeRegistry, all_done, running_in_thread, submit, wait_until
from tests.listener.test_daemon import PROMPTLY, listener_for


def totals(conn: psycopg.Connection) -> tuple[int, int] | None:
    return conn.execute("SELECT processed, failed FROM listener_heartbeats").fetchone()


def test_processed_counts_every_answer_as_soon_as_the_listener_is_idle(
    db_url: str, conn: psycopg.Connection
) -> None:
    # The periodic beat is a minute away: only writing on going idle explains fresh totals.
    with running_in_thread(listener_for(db_url, FakeRegistry("logistic"), batch_size=25)):
        assert wait_until(lambda: totals(conn) == (0, 0), 30)
        submit(conn, 1)
        assert wait_until(all_done(conn), PROMPTLY)
        assert wait_until(lambda: totals(conn) == (1, 0), PROMPTLY), totals(conn)
        submit(conn, 60)  # three batches, then idle
        assert wait_until(all_done(conn), PROMPTLY)
        assert wait_until(lambda: totals(conn) == (61, 0), PROMPTLY), totals(conn)
