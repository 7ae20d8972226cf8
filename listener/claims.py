"""The listener's statements against prediction_requests / prediction_results, one round trip each."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from listener.outcomes import BatchOutcome, Claim
from sql.named_queries import QUERIES, class_rows


@dataclass(frozen=True)
class Recorded:
    completed: int
    failed: int
    released: int


@dataclass(frozen=True)
class Swept:
    requeued: int
    failed: int


CLAIMED = class_rows("claim_pending", Claim)
LOCKED = class_rows("lock_pending", Claim)
RECORDED = class_rows("record_outcomes", Recorded)
SWEPT = class_rows("sweep_expired_leases", Swept)


def pending_floor(conn: psycopg.Connection) -> int:
    """The lowest id a claim must look at: the first id of the oldest partition epoch that holds a
    pending or running row (else of the newest request's epoch). Claims from there on plan, lock and
    probe only the partitions from that epoch up, not every partition."""
    row = conn.execute(QUERIES["pending_floor"]).fetchone()
    assert row is not None
    return int(row[0])


def claim_pending(
    conn: psycopg.Connection, listener_id: str, batch_size: int, lease_seconds: float, from_id: int = 0
) -> list[Claim]:
    """Claim up to `batch_size` pending rows with ids >= `from_id` (committed at once: autocommit),
    oldest first."""
    with conn.cursor(row_factory=CLAIMED) as cur:
        claims = cur.execute(
            QUERIES["claim_pending"],
            {
                "listener_id": listener_id,
                "batch_size": batch_size,
                "lease_seconds": lease_seconds,
                "from_id": from_id,
            },
        ).fetchall()
    claims.sort(key=lambda c: c.id)  # RETURNING has no order; keep arrival order within each model group
    return claims


def lock_pending(conn: psycopg.Connection, batch_size: int, from_id: int = 0) -> list[Claim]:
    """Lock up to `batch_size` pending rows with ids >= `from_id`, oldest first, without writing them:
    for a transaction that records their outcomes before it commits (`record_outcomes` claims them as it
    completes them)."""
    with conn.cursor(row_factory=LOCKED) as cur:
        params = {"batch_size": batch_size, "from_id": from_id}
        return cur.execute(QUERIES["lock_pending"], params).fetchall()  # by id


def limit_idle_transactions(conn: psycopg.Connection, seconds: float) -> None:
    """End this connection's session when a transaction stays idle `seconds` (its locks go with it)."""
    conn.execute(QUERIES["set_idle_transaction_limit"], {"milliseconds": max(1, round(seconds * 1000))})


def record_outcomes(conn: psycopg.Connection, listener_id: str, outcome: BatchOutcome) -> Recorded:
    """Results, failures and releases of one batch in one statement (hence one transaction)."""
    with conn.cursor(row_factory=RECORDED) as cur:
        row = cur.execute(QUERIES["record_outcomes"], outcome.params(listener_id)).fetchone()
    assert row is not None
    return row


def release_own_claims(conn: psycopg.Connection, listener_id: str) -> int:
    """Give back every row this listener still holds; returns how many."""
    row = conn.execute(QUERIES["release_own_claims"], {"listener_id": listener_id}).fetchone()
    return row[0] if row else 0


def sweep_expired_leases(conn: psycopg.Connection, max_attempts: int) -> Swept:
    """Requeue rows whose listener died holding them (or fail them past `max_attempts` claims)."""
    with conn.cursor(row_factory=SWEPT) as cur:
        row = cur.execute(QUERIES["sweep_expired_leases"], {"max_attempts": max_attempts}).fetchone()
    assert row is not None
    return row
