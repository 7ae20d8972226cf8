"""Claims start at a floor (the oldest partition epoch that holds a pending or running row), so with many
partitions they plan and lock only the newest ones; no row that becomes claimable below it is left behind:
old-epoch backlogs, requeues after an expired lease, and another listener's releases are all answered."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from listener.claims import (
    claim_pending,
    lock_pending,
    pending_floor,
    record_outcomes,
    release_own_claims,
)
from listener.config import ListenerConfig
from listener.daemon import Listener
from listener.outcomes import BatchOutcome
from sql.named_queries import QUERIES
from tests.listener.helpers import (
    FakeRegistry,
    all_done,
    assert_exactly_one_result_each,
    running_in_thread,
    submit,
    submit_silently,
    valid_features,
    wait_until,
)

QUIET = {"sweep_seconds": 60.0, "heartbeat_seconds": 60.0, "ping_seconds": 60.0}
PROMPTLY = 20  # far below the 60 s sweep: only a claim from the right floor answers in time


def epoch_start(conn: psycopg.Connection, epoch: int) -> int:
    return conn.execute("SELECT %s::bigint * request_epoch_width()", [epoch]).fetchone()[0]  # type: ignore[index]


def open_next_epoch(conn: psycopg.Connection) -> int:
    """What a retention run does once a partition has collected its period: new ids go to the next epoch."""
    epoch = conn.execute(QUERIES["current_epoch"]).fetchone()[0] + 1  # type: ignore[index]
    conn.execute("SELECT ensure_request_partition(%s)", [epoch])
    conn.execute(QUERIES["open_epoch"], {"epoch": epoch})
    return epoch


def complete(conn: psycopg.Connection, ids: list[int]) -> None:
    outcome = BatchOutcome()
    outcome.add_results(ids, [0] * len(ids), [0.25] * len(ids), "v1", "ab" * 32)
    record_outcomes(conn, "test:1:0", outcome)


def held_by_another_listener(conn: psycopg.Connection, ids: list[int], lease: str) -> None:
    """The rows as another listener's committed claim leaves them (lease `lease` from now)."""
    conn.execute(
        "UPDATE prediction_requests SET status = 'running', claimed_by = 'other:1:0', attempts = 1,"
        " claimed_at = now(), lease_until = now() + %s::interval WHERE id = ANY(%s)",
        [lease, ids],
    )


def listener_for(db_url: str, **overrides: Any) -> Listener:
    return Listener(ListenerConfig(database_url=db_url, **{**QUIET, **overrides}), registry=FakeRegistry())


def test_the_floor_follows_the_oldest_epoch_holding_a_pending_or_running_row(
    conn: psycopg.Connection,
) -> None:
    assert pending_floor(conn) == 0  # nothing yet: every partition
    old = submit(conn, 3)
    later = open_next_epoch(conn)
    new = submit(conn, 1)
    assert new[0] >= epoch_start(conn, later) > old[-1]
    assert pending_floor(conn) == 0  # the old epoch still has pending rows

    complete(conn, old[:2])
    held_by_another_listener(conn, old[2:], "30 s")
    assert pending_floor(conn) == 0  # a running row may come back (a release, an expired lease)

    complete(conn, old[2:])
    assert pending_floor(conn) == epoch_start(conn, later)
    complete(conn, new)
    assert pending_floor(conn) == epoch_start(conn, later)  # nothing open: the newest request's epoch


def test_a_claim_from_the_floor_takes_the_old_epochs_rows_first(conn: psycopg.Connection) -> None:
    old = submit(conn, 2)
    open_next_epoch(conn)
    new = submit(conn, 2)
    floor = pending_floor(conn)
    assert [c.id for c in lock_pending(conn, 3, floor)] == old + new[:1]
    claims = claim_pending(conn, "a:1:0", 3, 30, floor)
    assert [c.id for c in claims] == old + new[:1]


def test_a_lock_from_the_newest_epoch_plans_none_of_the_older_partitions(conn: psycopg.Connection) -> None:
    submit(conn, 2)
    later = open_next_epoch(conn)
    submit(conn, 1)
    params = {"batch_size": 10, "from_id": epoch_start(conn, later)}
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + QUERIES["lock_pending"], params).fetchall())
    assert f"prediction_requests_p{later}" in plan, plan
    assert "prediction_requests_p0 " not in plan and "prediction_requests_p0\n" not in plan, plan


def test_a_listener_drains_a_backlog_spanning_epochs(db_url: str, conn: psycopg.Connection) -> None:
    """A long outage: rows left pending in two epochs before the listener starts, none notified."""
    old = submit_silently(conn, 25)
    open_next_epoch(conn)
    new = submit_silently(conn, 25)
    with running_in_thread(listener_for(db_url, batch_size=10)):
        assert wait_until(all_done(conn, old + new), PROMPTLY)
    assert_exactly_one_result_each(conn, 50)


def test_a_row_requeued_in_an_old_epoch_is_answered(db_url: str, conn: psycopg.Connection) -> None:
    """The listener has moved its floor to the newest epoch; then an old-epoch row whose listener died
    (its lease expired) is requeued by the sweep, which lowers the floor again."""
    # A row the sweep once gave up on stands for any closed old-epoch row: it is below the floor.
    old = [
        conn.execute(
            "INSERT INTO prediction_requests (model_name, features, status, error, attempts, completed_at)"
            " VALUES ('logistic', %s::jsonb, 'failed', 'gave up', 1, now()) RETURNING id",
            [json.dumps(valid_features())],
        ).fetchone()[0]  # type: ignore[index]
    ]
    later = open_next_epoch(conn)
    with running_in_thread(listener_for(db_url, sweep_seconds=0.5)) as listener:
        first = submit(conn, 1)
        assert wait_until(all_done(conn, first), PROMPTLY)
        assert wait_until(lambda: listener._from_id == epoch_start(conn, later), PROMPTLY)
        # Then it is held by a listener that died: running, its lease passed.
        conn.execute(
            "UPDATE prediction_requests SET status = 'running', claimed_by = 'dead:1:0', error = NULL,"
            " lease_until = now() - interval '1 s', completed_at = NULL WHERE id = %s",
            old,
        )
        assert wait_until(all_done(conn, old), PROMPTLY)
    rows = conn.execute(
        "SELECT r.status, r.attempts, count(res.id) FROM prediction_requests r"
        " LEFT JOIN prediction_results res ON res.request_id = r.id WHERE r.id = %s GROUP BY r.id",
        old,
    ).fetchall()
    assert rows == [("completed", 2, 1)]


def test_rows_another_listener_releases_in_an_old_epoch_are_answered_on_the_next_wake(
    db_url: str, conn: psycopg.Connection
) -> None:
    """Another listener holds old-epoch rows when this one starts, then gives them back (it shuts down):
    the next notification's claim takes them, with no sweep in between."""
    old = submit_silently(conn, 3)
    held_by_another_listener(conn, old, "10 min")
    open_next_epoch(conn)
    with running_in_thread(listener_for(db_url)) as listener:
        first = submit(conn, 1)
        assert wait_until(all_done(conn, first), PROMPTLY)
        assert listener._from_id == 0
        assert release_own_claims(conn, "other:1:0") == 3
        later = submit(conn, 1)
        assert wait_until(all_done(conn, old + later), PROMPTLY)
    assert_exactly_one_result_each(conn, 5)
