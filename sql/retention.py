"""Partition maintenance and retention: `python -m sql retention [--older-than DAYS] [--archive DIR]`.

prediction_requests and every table referencing it are partitioned by request id in epochs
(sql/schema/016_partitioned_requests.sql). A run

1. opens the next epoch when the current one has collected requests for `partition_hours` (new ids
   are drawn from the next epoch's range, whose partitions were created ahead), and keeps one epoch
   ready ahead;
2. removes every closed epoch whose newest request is older than the limit: each table's partition
   is detached (CONCURRENTLY: traffic goes on), optionally copied to DIR/<partition>.csv.gz, counted
   and dropped, children first (dropping a child's partition removes its foreign key's triggers from
   prediction_requests: traffic waits for that moment). No row is DELETEd, so nothing is left to vacuum;
3. writes one `retention.run` audit event with the counts.

A run is idempotent (a second one finds nothing more to remove) and resumable: a partition left
detached, or half-detached, by a run that died is finished by the next one. One run at a time
(advisory lock).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Query
from psycopg.rows import dict_row

from sql.audit import cli_actor
from sql.named_queries import QUERIES

PARENT = "prediction_requests"


@dataclass
class RetentionReport:
    """What one run did."""

    older_than_days: float | None
    cutoff: datetime | None
    opened_epoch: int | None = None
    removed_epochs: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    archived: list[str] = field(default_factory=list)
    ddl_seconds: dict[str, float] = field(default_factory=dict)  # every DDL statement
    # attaching a child's partition, dropping a detached one: traffic waits (see the queries)
    blocking_ddl_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    audit_id: int | None = None

    @property
    def longest_ddl_seconds(self) -> float:
        return max(self.ddl_seconds.values(), default=0.0)

    @property
    def longest_blocking_seconds(self) -> float:
        return max(self.blocking_ddl_seconds.values(), default=0.0)

    def details(self) -> dict[str, object]:
        """The audit event's details: counts and partitions, never a row's data."""
        return {
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "opened_epoch": self.opened_epoch,
            "removed_epochs": self.removed_epochs,
            "rows": self.rows,
            "archived": self.archived,
            "longest_ddl_seconds": round(self.longest_ddl_seconds, 4),
            "longest_blocking_ddl_seconds": round(self.longest_blocking_seconds, 4),
            "seconds": round(self.seconds, 3),
        }


class RetentionRefused(RuntimeError):
    """The database is in a state retention cannot handle safely (said why)."""


def _ddl(template: str, **names: str) -> sql.Composed:
    return sql.SQL(template).format(**{k: sql.Identifier(v) for k, v in names.items()})  # type: ignore[arg-type]


ATTEMPTS = 100


def _yielding(attempt: int, exc: Exception) -> None:
    """A DDL statement gave up waiting for its lock (lock_timeout): let traffic through, then retry."""
    if attempt == ATTEMPTS - 1:
        raise exc
    time.sleep(0.05 + 0.01 * attempt)


def _timed(
    conn: psycopg.Connection, report: RetentionReport, label: str, stmt: sql.Composed, *, blocking: bool
) -> None:
    """Run one DDL statement, retrying when it could not get its lock within lock_timeout."""
    for attempt in range(ATTEMPTS):
        start = time.perf_counter()
        try:
            conn.execute(stmt)
        except psycopg.errors.LockNotAvailable as exc:
            _yielding(attempt, exc)
            continue
        report.ddl_seconds[label] = time.perf_counter() - start
        if blocking:
            report.blocking_ddl_seconds[label] = report.ddl_seconds[label]
        return


def _rows(
    conn: psycopg.Connection, query: Query, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _row(
    conn: psycopg.Connection, query: Query, params: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def _family(conn: psycopg.Connection) -> list[str]:
    return [row["table_name"] for row in _rows(conn, QUERIES["partition_family"])]


def _current_epoch(conn: psycopg.Connection) -> int:
    row = _row(conn, QUERIES["current_epoch"])
    return row["epoch"] if row else 0


def roll_partitions(conn: psycopg.Connection, report: RetentionReport, partition_hours: float) -> None:
    """Keep the current and the next epoch's partitions; open the next once the current is full."""
    epoch = _current_epoch(conn)
    for e in (epoch, epoch + 1):
        _ensure(conn, report, e)
    span = _row(conn, _ddl(QUERIES["partition_span"], partition=f"{PARENT}_p{epoch}"))
    oldest = span["oldest"] if span else None
    now = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
    if oldest is not None and oldest <= now - timedelta(hours=partition_hours):
        conn.execute(QUERIES["open_epoch"], {"epoch": epoch + 1})
        report.opened_epoch = epoch + 1
        _ensure(conn, report, epoch + 2)


def _ensure(conn: psycopg.Connection, report: RetentionReport, epoch: int) -> None:
    """The epoch's partitions, one table per transaction (parent first). Attaching a child's partition
    adds its foreign key, which takes SHARE ROW EXCLUSIVE on prediction_requests: the one step of a run
    that makes inserts wait (for as long as it lasts, timed in blocking_ddl_seconds)."""
    for table in _family(conn):
        for attempt in range(ATTEMPTS):
            started = time.perf_counter()
            try:
                row = _row(conn, QUERIES["ensure_partition"], {"epoch": epoch, "table_name": table})
            except psycopg.errors.LockNotAvailable as exc:
                _yielding(attempt, exc)
                continue
            if row is None or row["created"] != 0:
                report.blocking_ddl_seconds[f"attach {table}_p{epoch}"] = time.perf_counter() - started
            break


def _remove_partition(
    conn: psycopg.Connection, report: RetentionReport, table: str, epoch: int, archive_dir: Path | None
) -> None:
    part = f"{table}_p{epoch}"
    state = _row(conn, QUERIES["partition_state"], {"partition": part})
    if state is None:
        return  # gone already (an earlier run dropped it)
    for attempt in range(ATTEMPTS):
        state = _row(conn, QUERIES["partition_state"], {"partition": part})
        assert state is not None  # only this run (it holds the retention lock) drops partitions
        if not state["attached"]:
            break
        # A detach that gave up half-way (its second phase) is left pending: it is finalized.
        template = QUERIES["finalize_detach"] if state["detach_pending"] else QUERIES["detach_partition"]
        started = time.perf_counter()
        try:
            conn.execute(_ddl(template, parent=table, partition=part))
        except psycopg.errors.LockNotAvailable as exc:
            _yielding(attempt, exc)
            continue
        report.ddl_seconds[f"detach {part}"] = time.perf_counter() - started
        break
    if archive_dir is not None:
        target = archive_dir / f"{part}.csv.gz"
        partial = target.with_name(target.name + ".partial")
        with conn.cursor() as cur, gzip.open(partial, "wb") as out:
            with cur.copy(_ddl(QUERIES["archive_partition"], partition=part)) as copy:
                for chunk in copy:
                    out.write(chunk)
            rows = cur.rowcount
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, target)
        report.archived.append(target.name)
    else:
        counted = _row(conn, _ddl(QUERIES["count_partition"], partition=part))
        assert counted is not None
        rows = counted["n"]
    report.rows[table] = report.rows.get(table, 0) + rows
    child = table != PARENT
    drop = QUERIES["drop_child_partition"] if child else QUERIES["drop_partition"]
    _timed(conn, report, f"drop {part}", _ddl(drop, partition=part), blocking=child)


def expired_epochs(conn: psycopg.Connection, cutoff: datetime) -> list[int]:
    """Closed epochs whose newest request is older than cutoff, and ones an interrupted run left."""
    current = _current_epoch(conn)
    expired = []
    for p in _rows(conn, QUERIES["request_partitions"]):
        if not p["attached"] or p["detach_pending"]:
            expired.append(p["epoch"])
            continue
        if p["epoch"] >= current:
            continue
        span = _row(conn, _ddl(QUERIES["partition_span"], partition=p["partition"]))
        newest = span["newest"] if span else None
        if newest is None or newest < cutoff:
            expired.append(p["epoch"])
    return expired


def run_retention(
    conninfo: str,
    *,
    older_than_days: float | None,
    archive_dir: Path | None = None,
    partition_hours: float = 24.0,
    actor: str | None = None,
    audit_when_idle: bool = True,
) -> RetentionReport:
    """One maintenance run (see the module docstring); returns what it did."""
    started = time.perf_counter()
    report = RetentionReport(older_than_days=older_than_days, cutoff=None)
    if archive_dir is not None:
        archive_dir.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(QUERIES["take_retention_lock"])
        try:
            conn.execute(QUERIES["retention_lock_timeout"])
            stray = [row["table_name"] for row in _rows(conn, QUERIES["unpartitioned_referencing_tables"])]
            if stray:
                raise RetentionRefused(
                    f"tables {', '.join(stray)} reference prediction_requests but are not partitioned "
                    "with it; their rows would keep partitions from being detached"
                )
            roll_partitions(conn, report, partition_hours)
            if older_than_days is not None:
                now = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
                report.cutoff = now - timedelta(days=older_than_days)
                family = _family(conn)
                children_first = [t for t in family if t != PARENT] + [PARENT]
                for epoch in expired_epochs(conn, report.cutoff):
                    for table in children_first:
                        _remove_partition(conn, report, table, epoch, archive_dir)
                    report.removed_epochs.append(epoch)
            report.seconds = time.perf_counter() - started
            if audit_when_idle or report.removed_epochs or report.opened_epoch is not None:
                with conn.transaction():
                    who = actor or cli_actor()
                    conn.execute(QUERIES["state_retention_actor"], {"actor": who})
                    row = _row(conn, QUERIES["audit_retention"], {"details": json.dumps(report.details())})
                    assert row is not None
                    report.audit_id = row["id"]
        finally:
            conn.execute(QUERIES["release_retention_lock"])
    return report


def _say(report: RetentionReport) -> str:
    lines = []
    if report.opened_epoch is not None:
        lines.append(f"opened partition epoch {report.opened_epoch}")
    if report.older_than_days is None:
        lines.append("no retention limit (set RETENTION_DAYS or pass --older-than): nothing removed")
    elif not report.removed_epochs:
        lines.append(f"nothing older than {report.older_than_days:g} days to remove")
    else:
        counts = ", ".join(f"{table} {n}" for table, n in report.rows.items())
        lines.append(f"removed partition epochs {', '.join(map(str, report.removed_epochs))}: {counts}")
        longest = max(report.ddl_seconds, key=report.ddl_seconds.__getitem__)
        lines.append(
            f"longest DDL statement {report.longest_ddl_seconds * 1000:.1f} ms ({longest}; "
            "detach CONCURRENTLY and drop of a detached table make no insert, claim or read wait)"
        )
    if report.blocking_ddl_seconds:
        lines.append(
            "new partitions attached; the longest made inserts wait "
            f"{report.longest_blocking_seconds * 1000:.1f} ms"
        )
    if report.archived:
        lines.append(f"archived {len(report.archived)} file(s)")
    return "\n".join(lines)


def main(argv: list[str], conninfo: str) -> int:
    from sql.settings import Settings, get_settings, variable_and_default

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m sql retention", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        default=settings.retention_days,
        help="remove requests older than DAYS (default: RETENTION_DAYS; unset: only roll partitions)",
    )
    parser.add_argument(
        "--archive", type=Path, metavar="DIR", help="COPY each partition to DIR/<name>.csv.gz first"
    )
    parser.add_argument(
        "--partition-hours",
        type=float,
        default=settings.partition_hours,
        help="open a new partition epoch after this many hours "
        f"({variable_and_default(Settings, 'partition_hours')})",
    )
    parser.add_argument(
        "--every", type=float, metavar="SECONDS", help="keep running, once every SECONDS (instead of cron)"
    )
    args = parser.parse_args(argv)
    if args.older_than is not None and args.older_than <= 0:
        parser.error("--older-than must be positive")
    while True:
        try:
            report = run_retention(
                conninfo,
                older_than_days=args.older_than,
                archive_dir=args.archive,
                partition_hours=args.partition_hours,
                audit_when_idle=args.every is None,
            )
        except RetentionRefused as exc:
            print(f"refusing retention: {exc}", file=sys.stderr)
            return 1
        except psycopg.Error as exc:  # e.g. a role that may not create or drop partitions
            print(f"retention stopped: {exc}".rstrip(), file=sys.stderr)
            return 1
        print(_say(report), flush=True)
        if args.every is None:
            return 0
        time.sleep(args.every)
