"""Posted outcomes: the observed truth recorded against the requests it matches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

from sql.named_queries import QUERIES, class_rows

# Two posts recording the first outcome of one request at once: the loser's insert breaks the
# one-current-outcome index and is retried, and then sees the winner's row.
ATTEMPTS = 3


@dataclass(frozen=True)
class OutcomeItem:
    """One posted outcome: for the request `request_id`, or for the subject `subject_ref`."""

    request_id: UUID | None
    subject_ref: str | None
    label: int
    observed_at: datetime


@dataclass(frozen=True)
class Recorded:
    matched: int  # requests the items matched
    recorded: int  # outcomes written (new or corrections)
    corrected: int  # of those, how many replaced a different current outcome
    unknown_items: list[int]  # 0-based indexes of the items that matched no request

    @property
    def unchanged(self) -> int:
        return self.matched - self.recorded


@dataclass(frozen=True)
class Counts:
    matched: int
    recorded: int
    unknown_items: list[int]  # 1-based


COUNTS = class_rows("record_new_outcomes", Counts)


async def record(
    pool: AsyncConnectionPool,
    items: list[OutcomeItem],
    horizon_days: int,
    source: str,
    submitted_by: int | None = None,
) -> Recorded:
    """Record `items` in one transaction: corrections supersede, repeats change nothing. With
    `submitted_by`, only the requests that API key submitted are matched."""
    params = {
        "request_ids": [i.request_id for i in items],
        "subject_refs": [i.subject_ref for i in items],
        "labels": [i.label for i in items],
        "observed_at": [i.observed_at for i in items],
        "horizon_days": horizon_days,
        "source": source,
        "submitted_by": submitted_by,
    }
    for attempt in range(ATTEMPTS):
        try:
            return await _record_once(pool, params)
        except psycopg.errors.UniqueViolation:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _record_once(pool: AsyncConnectionPool, params: dict) -> Recorded:
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(QUERIES["supersede_changed_outcomes"], params)
        corrected = cur.rowcount
        counts = conn.cursor(row_factory=COUNTS)
        await counts.execute(QUERIES["record_new_outcomes"], params)
        row = await counts.fetchone()
    assert row is not None
    return Recorded(row.matched, row.recorded, corrected, [i - 1 for i in row.unknown_items])
