"""The listener's statements against prediction_requests / prediction_results, one round trip each."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from listener.outcomes import BatchOutcome, Claim
from sql.queries import QUERIES


@dataclass(frozen=True)
class Recorded:
    completed: int
    failed: int
    released: int


@dataclass(frozen=True)
class Swept:
    requeued: int
    failed: int


def claim_pending(
    conn: psycopg.Connection, listener_id: str, batch_size: int, lease_seconds: float
) -> list[Claim]:
    """Claim up to `batch_size` pending rows (committed at once: autocommit), oldest first."""
    rows = conn.execute(
        QUERIES["claim_pending"],
        {"listener_id": listener_id, "batch_size": batch_size, "lease_seconds": lease_seconds},
    ).fetchall()
    claims = [Claim(*row) for row in rows]
    claims.sort(key=lambda c: c.id)  # RETURNING has no order; keep arrival order within each model group
    return claims


def lock_pending(conn: psycopg.Connection, batch_size: int) -> list[Claim]:
    """Lock up to `batch_size` pending rows, oldest first, without writing them: for a transaction that
    records their outcomes before it commits (`record_outcomes` claims them as it completes them)."""
    rows = conn.execute(QUERIES["lock_pending"], {"batch_size": batch_size}).fetchall()
    return [Claim(*row) for row in rows]  # ORDER BY id, so in arrival order


def limit_idle_transactions(conn: psycopg.Connection, seconds: float) -> None:
    """End this connection's session when a transaction stays idle `seconds` (its locks go with it)."""
    conn.execute(QUERIES["set_idle_transaction_limit"], {"milliseconds": max(1, round(seconds * 1000))})


def record_outcomes(conn: psycopg.Connection, listener_id: str, outcome: BatchOutcome) -> Recorded:
    """Results, failures and releases of one batch in one statement (hence one transaction)."""
    row = conn.execute(QUERIES["record_outcomes"], outcome.params(listener_id)).fetchone()
    assert row is not None
    return Recorded(*row)


def release_own_claims(conn: psycopg.Connection, listener_id: str) -> int:
    """Give back every row this listener still holds; returns how many."""
    row = conn.execute(QUERIES["release_own_claims"], {"listener_id": listener_id}).fetchone()
    return row[0] if row else 0


def sweep_expired_leases(conn: psycopg.Connection, max_attempts: int) -> Swept:
    """Requeue rows whose listener died holding them (or fail them past `max_attempts` claims)."""
    row = conn.execute(QUERIES["sweep_expired_leases"], {"max_attempts": max_attempts}).fetchone()
    assert row is not None
    return Swept(*row)
