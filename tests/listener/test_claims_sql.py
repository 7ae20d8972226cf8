"""The listener's SQL on its own: claims never overlap, leases expire, a late writer loses cleanly."""

from __future__ import annotations

import psycopg
import pytest

from listener.claims import (
    claim_pending,
    limit_idle_transactions,
    lock_pending,
    record_outcomes,
    release_own_claims,
    sweep_expired_leases,
)
from listener.outcomes import BatchOutcome
from tests.listener.helpers import submit, wait_until


def expire_leases(conn: psycopg.Connection) -> None:
    conn.execute(
        "UPDATE prediction_requests SET lease_until = now() - interval '1 s' WHERE status = 'running'"
    )


def results_for(ids: list[int], version: str) -> BatchOutcome:
    outcome = BatchOutcome()
    outcome.add_results(ids, [1] * len(ids), [0.75] * len(ids), version, "cd" * 32)
    return outcome


def test_claim_takes_oldest_pending_rows_under_a_lease(conn: psycopg.Connection) -> None:
    ids = submit(conn, 5)
    claims = claim_pending(conn, "host:1:0", batch_size=3, lease_seconds=30)
    assert [c.id for c in claims] == ids[:3]
    assert claims[0].model_name == "logistic" and isinstance(claims[0].features, dict)
    rows = conn.execute(
        "SELECT status, claimed_by, attempts, lease_until - claimed_at, claimed_at IS NOT NULL"
        " FROM prediction_requests ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == ["running"] * 3 + ["pending"] * 2
    assert {(r[1], r[2]) for r in rows[:3]} == {("host:1:0", 1)}
    assert all(29 <= r[3].total_seconds() <= 31 and r[4] for r in rows[:3])


def test_claims_skip_rows_another_listener_is_claiming(db_url: str, conn: psycopg.Connection) -> None:
    submit(conn, 10)
    with psycopg.connect(db_url) as slow:  # not autocommit: its claim stays uncommitted, rows locked
        first = claim_pending(slow, "a:1:0", batch_size=6, lease_seconds=30)
        second = claim_pending(conn, "b:2:0", batch_size=6, lease_seconds=30)  # does not wait for `slow`
        slow.commit()
    assert len(first) == 6 and len(second) == 4
    assert not {c.id for c in first} & {c.id for c in second}


def test_outcomes_are_recorded_in_one_statement_with_version_and_hash(conn: psycopg.Connection) -> None:
    ids = submit(conn, 4)
    claim_pending(conn, "a:1:0", batch_size=4, lease_seconds=30)
    outcome = results_for(ids[:2], "v7")
    outcome.add_failures([ids[2]], "inference failed: ValueError: bad")
    outcome.add_released([ids[3]])
    recorded = record_outcomes(conn, "a:1:0", outcome)
    assert (recorded.completed, recorded.failed, recorded.released) == (2, 1, 1)
    rows = conn.execute(
        "SELECT r.status, r.error, r.attempts, r.completed_at IS NOT NULL,"
        " res.model_version, res.model_sha256, res.prediction, res.probability"
        " FROM prediction_requests r LEFT JOIN prediction_results res ON res.request_id = r.id ORDER BY r.id"
    ).fetchall()
    assert rows[0] == ("completed", None, 1, True, "v7", "cd" * 32, 1, 0.75)
    assert rows[2][:4] == ("failed", "inference failed: ValueError: bad", 1, True)
    # Released: pending again and the claim does not count as an attempt.
    assert rows[3][:4] == ("pending", None, 0, False)


def test_late_writer_loses_cleanly_after_its_lease_expired(conn: psycopg.Connection) -> None:
    ids = submit(conn, 3)
    claim_pending(conn, "slow:1:0", batch_size=3, lease_seconds=30)
    expire_leases(conn)
    assert sweep_expired_leases(conn, max_attempts=3).requeued == 3
    claim_pending(conn, "fast:2:0", batch_size=3, lease_seconds=30)
    assert record_outcomes(conn, "fast:2:0", results_for(ids, "fast")).completed == 3
    # The first holder wakes up and writes too: nothing changes, no error.
    late = record_outcomes(conn, "slow:1:0", results_for(ids, "slow"))
    assert (late.completed, late.failed) == (0, 0)
    versions = conn.execute("SELECT model_version, count(*) FROM prediction_results GROUP BY 1").fetchall()
    assert versions == [("fast", 3)]


def test_a_result_never_reopens_a_request_the_sweep_gave_up_on(conn: psycopg.Connection) -> None:
    ids = submit(conn, 1)
    claim_pending(conn, "dead:1:0", batch_size=1, lease_seconds=30)
    expire_leases(conn)
    assert sweep_expired_leases(conn, max_attempts=1).failed == 1
    assert record_outcomes(conn, "dead:1:0", results_for(ids, "late")).completed == 0
    status, error = conn.execute("SELECT status, error FROM prediction_requests").fetchone() or (None, None)
    assert status == "failed" and "gave up after 1 attempts" in error and "dead:1:0" in error
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (0,)


def test_sweep_requeues_expired_leases_and_fails_exhausted_ones(conn: psycopg.Connection) -> None:
    submit(conn, 6)
    claim_pending(conn, "a:1:0", batch_size=4, lease_seconds=30)
    conn.execute(
        "UPDATE prediction_requests SET attempts = 3 WHERE id IN (SELECT min(id) FROM prediction_requests)"
    )
    expire_leases(conn)
    claim_pending(conn, "b:2:0", batch_size=1, lease_seconds=30)  # a live lease: left alone
    swept = sweep_expired_leases(conn, max_attempts=3)
    assert (swept.requeued, swept.failed) == (3, 1)
    rows = conn.execute(
        "SELECT status, lease_until IS NULL, error IS NOT NULL FROM prediction_requests ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("failed", True, True),
        ("pending", True, False),
        ("pending", True, False),
        ("pending", True, False),
        ("running", False, False),
        ("pending", True, False),
    ]


def test_release_own_claims_gives_back_only_this_listeners_rows(conn: psycopg.Connection) -> None:
    submit(conn, 4)
    claim_pending(conn, "a:1:0", batch_size=2, lease_seconds=30)
    claim_pending(conn, "b:2:0", batch_size=2, lease_seconds=30)
    assert release_own_claims(conn, "a:1:0") == 2
    rows = conn.execute("SELECT status, claimed_by, attempts FROM prediction_requests ORDER BY id").fetchall()
    assert rows == [
        ("pending", "a:1:0", 0),
        ("pending", "a:1:0", 0),
        ("running", "b:2:0", 1),
        ("running", "b:2:0", 1),
    ]


def test_results_keep_exact_probabilities_and_any_version_text(conn: psycopg.Connection) -> None:
    # The result arrays reach the database as array literals built by the listener: every float8
    # comes back bit for bit, and version text with array syntax in it stays data.
    ids = submit(conn, 4)
    claim_pending(conn, "a:1:0", batch_size=4, lease_seconds=30)
    odd = 'v1, "quoted" {braced} back\\slash'
    probabilities = [0.1 + 0.2, 1e-17, 1.0, 0.0]
    outcome = BatchOutcome()
    outcome.add_results(ids[:2], [1, 0], probabilities[:2], odd, "ab" * 32)
    outcome.add_results(ids[2:], [1, 0], probabilities[2:], "NULL", "cd" * 32)
    assert record_outcomes(conn, "a:1:0", outcome).completed == 4
    rows = conn.execute(
        "SELECT prediction, probability, model_version, model_sha256 FROM prediction_results"
        " ORDER BY request_id"
    ).fetchall()
    assert rows == [
        (1, probabilities[0], odd, "ab" * 32),
        (0, probabilities[1], odd, "ab" * 32),
        (1, 1.0, "NULL", "cd" * 32),
        (0, 0.0, "NULL", "cd" * 32),
    ]


def test_a_claim_in_a_short_transaction_writes_each_row_once_when_its_outcome_is_recorded(
    db_url: str, conn: psycopg.Connection
) -> None:
    ids = submit(conn, 5)
    with psycopg.connect(db_url, autocommit=True) as work, work.transaction():
        locked = lock_pending(work, batch_size=3)
        assert [c.id for c in locked] == ids[:3]
        assert locked[0].model_name == "logistic" and isinstance(locked[0].features, dict)
        # Nothing written yet: still pending as others see them, and skipped by their claims.
        assert conn.execute("SELECT DISTINCT status FROM prediction_requests").fetchall() == [("pending",)]
        other = claim_pending(conn, "b:2:0", batch_size=5, lease_seconds=30)
        assert [c.id for c in other] == ids[3:]
        outcome = results_for(ids[:2], "v1")
        outcome.add_failures([ids[2]], "inference failed: ValueError: bad")
        recorded = record_outcomes(work, "a:1:0", outcome)
        assert (recorded.completed, recorded.failed) == (2, 1)
    rows = conn.execute(
        "SELECT status, claimed_by, attempts, created_at <= claimed_at AND claimed_at <= completed_at"
        " FROM prediction_requests ORDER BY id"
    ).fetchall()
    # Claimed (who, one attempt, when) by the same write that completed them, as a committed claim would have.
    assert rows[:3] == [("completed", "a:1:0", 1, True)] * 2 + [("failed", "a:1:0", 1, True)]
    assert [r[:3] for r in rows[3:]] == [("running", "b:2:0", 1)] * 2


def test_a_short_transaction_that_never_commits_leaves_its_rows_as_if_never_claimed(
    db_url: str, conn: psycopg.Connection
) -> None:
    ids = submit(conn, 3)
    with psycopg.connect(db_url, autocommit=True) as work:
        work.execute("BEGIN")
        assert len(lock_pending(work, batch_size=3)) == 3
        record_outcomes(work, "a:1:0", results_for(ids, "v1"))
        work.execute("ROLLBACK")  # what a listener killed before its commit leaves
    rows = conn.execute("SELECT DISTINCT status, attempts, claimed_by FROM prediction_requests").fetchall()
    assert rows == [("pending", 0, None)]
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (0,)


def test_a_listener_frozen_in_its_short_transaction_loses_its_rows_after_the_lease(
    db_url: str, conn: psycopg.Connection
) -> None:
    submit(conn, 3)
    frozen = psycopg.connect(db_url, autocommit=True)
    try:
        limit_idle_transactions(frozen, 0.5)
        frozen.execute("BEGIN")
        assert len(lock_pending(frozen, batch_size=3)) == 3
        assert claim_pending(conn, "b:2:0", batch_size=3, lease_seconds=30) == []  # locked, skipped
        # The frozen transaction never goes on: the server ends its session, and its locks with it.
        claimed: list[int] = []

        def taken_over() -> bool:
            claimed.extend(c.id for c in claim_pending(conn, "b:2:0", batch_size=3, lease_seconds=30))
            return len(claimed) == 3

        assert wait_until(taken_over, 30, interval=0.1)
        with pytest.raises(psycopg.Error):
            frozen.execute("SELECT 1")
        assert frozen.broken
    finally:
        frozen.close()
    rows = conn.execute("SELECT DISTINCT status, attempts, claimed_by FROM prediction_requests").fetchall()
    assert rows == [("running", 1, "b:2:0")]
