"""Erase one subject: `python -m sql erase --subject-ref REF` (the SQL is erase_subject() in schema 014)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from sql.named_queries import QUERIES

MAX_SUBJECT_REF = 200


@dataclass(frozen=True)
class Erasure:
    """Rows erased per table (prediction_requests first) and the audit event that records it."""

    rows: dict[str, int]
    audit_event_id: int
    committed: bool

    def summary(self) -> str:
        counts = ", ".join(f"{table} {n}" for table, n in self.rows.items())
        total = sum(self.rows.values())
        if not self.committed:
            return f"dry run, nothing erased: would erase {total} row(s): {counts}"
        return f"erased {total} row(s): {counts}; audit event {self.audit_event_id} (data.erased)"


def erase(conninfo: str, subject_ref: str, actor: str, dry_run: bool = False) -> Erasure:
    """Delete everything about `subject_ref` in one transaction (rolled back when `dry_run`)."""
    if not 1 <= len(subject_ref) <= MAX_SUBJECT_REF:
        raise ValueError(f"a subject_ref has 1 to {MAX_SUBJECT_REF} characters, got {len(subject_ref)}")
    with psycopg.connect(conninfo, row_factory=dict_row) as conn:
        conn.execute(QUERIES["state_erasure_actor"], {"actor": actor})
        erased = conn.execute(QUERIES["erase_subject"], {"subject_ref": subject_ref}).fetchall()
        row = conn.execute(QUERIES["erasure_event_id"]).fetchone()
        assert row is not None
        if dry_run:
            conn.rollback()
    rows = {r["table_name"]: r["rows_erased"] for r in erased}
    return Erasure(rows, row["id"], committed=not dry_run)
