"""Retention by partition: `python -m sql retention` removes whole expired partitions (requests, results,
outcomes, explanations), exactly those, archives them on request, leaves nothing to vacuum, is audited,
idempotent, and runs while traffic flows without losing any of it."""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from sql.named_queries import QUERIES
from sql.retention import run_retention
from tests.foundation.retention_data import fill_epoch, make_current
from tests.listener.conftest import LISTENER_ENV
from tests.listener.helpers import valid_features, wait_until
from tests.listener.procs import wait_listening
from tests.logins import login_url
from tests.stack import run_module, running_listener

FAMILY = (
    "prediction_requests",
    "shadow_predictions",
    "prediction_results",
    "prediction_outcomes",
    "explanation_requests",
    "prediction_explanations",
)


def retention_cli(db_url: str, *args: str, as_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m sql retention ARGS` on db_url (connected as as_url when given)."""
    return run_module(
        db_url, "sql", "retention", *args, env={"DATABASE_URL": as_url} if as_url else None, timeout=600
    )


def count(conn: psycopg.Connection, table: str, where: str = "true") -> int:
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    assert row is not None
    return row[0]


def epoch_where(epoch: int, column: str = "id") -> str:
    return f"{column} >= {epoch} * request_epoch_width() AND {column} < {epoch + 1} * request_epoch_width()"


def add_children(conn: psycopg.Connection, epoch: int, n: int) -> None:
    """An outcome, an explanation request, an explanation and a shadow answer for the first n requests
    of an epoch."""
    first = f"SELECT id FROM prediction_requests WHERE {epoch_where(epoch)} ORDER BY id LIMIT {n}"
    conn.execute(
        "INSERT INTO prediction_outcomes (request_id, label, observed_at, source)"
        f" SELECT id, 1, now(), 'test' FROM ({first}) AS r"
    )
    conn.execute(
        "INSERT INTO explanation_requests (request_id, status, completed_at)"
        f" SELECT id, 'completed', now() FROM ({first}) AS r"
    )
    conn.execute(
        "INSERT INTO prediction_explanations (request_id, model_name, model_version, model_sha256, method,"
        " scale, base_value, output_value, contributions)"
        f" SELECT id, 'logistic', 'v-test', repeat('0', 64), 'constant', 'probability', 0.5, 0.5, '[]'"
        f" FROM ({first}) AS r"
    )
    conn.execute(
        "INSERT INTO shadow_predictions (request_id, model_name, model_version, model_sha256, prediction,"
        " probability)"
        f" SELECT id, 'random_forest', 'v-test', repeat('0', 64), 1, 0.5 FROM ({first}) AS r"
    )


def dead_tuples(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute(
        "SELECT relname, n_dead_tup FROM pg_stat_user_tables"
        " WHERE relname ~ '^(prediction_requests|prediction_results|prediction_outcomes|explanation_requests"
        "|prediction_explanations|shadow_predictions)'"
    ).fetchall()
    return {name: n for name, n in rows if n}


@pytest.mark.slow  # a million rows: make test runs it, make test-fast does not
def test_a_million_requests_lose_exactly_their_expired_partitions(
    db_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    # 1,000,000 requests with results in five epochs of ten days each: 50-40, 40-30, 30-20, 20-10 and
    # 10-0 days old (the current one). Outcomes and explanations in an expired and in a kept epoch.
    for epoch in range(5):
        fill_epoch(conn, epoch, 200_000, days_ago_from=50 - 10 * epoch, days_ago_to=40 - 10 * epoch)
    make_current(conn, 4)
    add_children(conn, 1, 1000)
    add_children(conn, 3, 1000)
    kept_ids = conn.execute(
        "SELECT min(id), max(id), count(*) FROM prediction_requests WHERE id >= 2 * request_epoch_width()"
    ).fetchone()

    # Older than 25 days: epochs 0 and 1 are wholly older. Epoch 2 (30-20 days) holds some rows older than
    # 25 days too, but it leaves only whole: not yet.
    archive = tmp_path / "archive"
    done = retention_cli(db_url, "--older-than", "25", "--archive", str(archive))
    assert done.returncode == 0, done.stderr
    assert "removed partition epochs 0, 1" in done.stdout, done.stdout
    print(done.stdout)

    assert count(conn, "prediction_requests") == 600_000
    assert count(conn, "prediction_results") == 600_000
    # What is left is epochs 2-4 exactly: 30 days old and younger (at fill time, a minute or two ago).
    assert count(conn, "prediction_requests", "created_at < now() - interval '30 days 10 minutes'") == 0
    assert count(conn, "prediction_requests", epoch_where(2)) == 200_000
    assert conn.execute("SELECT min(id), max(id), count(*) FROM prediction_requests").fetchone() == kept_ids
    assert count(conn, "prediction_outcomes") == 1000  # epoch 3's
    assert count(conn, "prediction_outcomes", epoch_where(3, "request_id")) == 1000
    assert count(conn, "explanation_requests") == 1000
    assert count(conn, "prediction_explanations") == 1000
    assert count(conn, "shadow_predictions") == 1000
    # Every result still belongs to a request, every request kept its result: nothing orphaned.
    assert (
        count(
            conn,
            "prediction_requests r",
            "NOT EXISTS (SELECT 1 FROM prediction_results s WHERE s.request_id = r.id)",
        )
        == 0
    )

    # The partitions left the database whole: none of their tables remain.
    left = conn.execute("SELECT relname FROM pg_class WHERE relname ~ '_p[01]$' AND relkind = 'r'").fetchall()
    assert left == []

    # Archived first, one file per table and partition, every row in it.
    files = sorted(p.name for p in archive.iterdir())
    assert files == sorted(f"{t}_p{e}.csv.gz" for t in FAMILY for e in (0, 1))
    with gzip.open(archive / "prediction_requests_p1.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    assert len(lines) == 200_001 and lines[0].startswith("id,request_id,")
    with gzip.open(archive / "prediction_outcomes_p1.csv.gz", "rt") as f:
        assert len(f.read().splitlines()) == 1001

    # No DELETE ran: nothing is left for VACUUM in any table of the family.
    assert dead_tuples(conn) == {}

    # One audit event with the counts (and no request's data).
    [(actor, details)] = conn.execute(
        "SELECT actor, details FROM audit_events WHERE action = 'retention.run'"
    ).fetchall()
    assert actor.startswith("cli:")
    assert details["removed_epochs"] == [0, 1]
    assert details["rows"] == {
        "prediction_requests": 400_000,
        "prediction_results": 400_000,
        "prediction_outcomes": 1000,
        "explanation_requests": 1000,
        "prediction_explanations": 1000,
        "shadow_predictions": 1000,
    }
    print(f"longest DDL statement of the run: {details['longest_ddl_seconds'] * 1000:.1f} ms")

    # A second run finds nothing more to remove.
    again = retention_cli(db_url, "--older-than", "25")
    assert again.returncode == 0, again.stderr
    assert "nothing older than 25 days to remove" in again.stdout
    assert count(conn, "prediction_requests") == 600_000


def test_retention_finishes_what_an_interrupted_run_left(db_url: str, conn: psycopg.Connection) -> None:
    fill_epoch(conn, 0, 1000, days_ago_from=60, days_ago_to=50)
    fill_epoch(conn, 1, 1000, days_ago_from=2, days_ago_to=1)
    make_current(conn, 1)
    add_children(conn, 0, 10)
    # As if a run died after detaching and dropping the results, and detaching the outcomes.
    conn.execute("ALTER TABLE prediction_results DETACH PARTITION prediction_results_p0")
    conn.execute("DROP TABLE prediction_results_p0")
    conn.execute("ALTER TABLE prediction_outcomes DETACH PARTITION prediction_outcomes_p0")

    report = run_retention(db_url, older_than_days=30, actor="test")
    assert report.removed_epochs == [0]
    assert report.rows == {
        "explanation_requests": 10,
        "prediction_explanations": 10,
        "prediction_outcomes": 10,
        "prediction_requests": 1000,
        "shadow_predictions": 10,
    }
    assert count(conn, "prediction_requests") == 1000
    assert conn.execute("SELECT to_regclass('prediction_outcomes_p0')").fetchone() == (None,)


def test_a_run_opens_the_next_epoch_once_the_current_one_is_full(
    db_url: str, conn: psycopg.Connection
) -> None:
    fill_epoch(conn, 0, 100, days_ago_from=2, days_ago_to=1.5)
    make_current(conn, 0)
    report = run_retention(db_url, older_than_days=None, partition_hours=24, actor="test")
    assert report.opened_epoch == 1
    new = conn.execute(
        "INSERT INTO prediction_requests (model_name, features) VALUES ('logistic', '{}') RETURNING id"
    ).fetchone()
    assert new is not None and new[0] == conn.execute("SELECT request_epoch_width()").fetchone()[0]  # type: ignore[index]
    assert conn.execute("SELECT to_regclass('prediction_requests_p2')").fetchone() != (None,)  # ready ahead
    # The new epoch has a request from now: not full, nothing opened.
    assert run_retention(db_url, older_than_days=None, partition_hours=24, actor="test").opened_epoch is None


def test_retention_refuses_a_table_referencing_requests_that_is_not_partitioned_with_them(
    db_url: str, conn: psycopg.Connection
) -> None:
    conn.execute(
        "CREATE TABLE stray_notes (request_id bigint REFERENCES prediction_requests (id), note text)"
    )
    done = retention_cli(db_url, "--older-than", "30")
    assert done.returncode == 1
    assert "stray_notes" in done.stderr and "Traceback" not in done.stderr


def test_traffic_during_retention_loses_nothing(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    # Two expired epochs of 100,000 requests, then a live one that a running listener serves.
    fill_epoch(conn, 0, 100_000, days_ago_from=90, days_ago_to=80)
    fill_epoch(conn, 1, 100_000, days_ago_from=80, days_ago_to=70)
    make_current(conn, 2)
    log = tmp_path / "listener.log"
    submitted: list[str] = []
    latencies: list[float] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def submit_forever() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as c:
                i = 0
                while not stop.is_set():
                    request_id = str(uuid.uuid4())
                    started = time.perf_counter()
                    row = c.execute(
                        QUERIES["insert_prediction_request"],
                        {
                            "request_id": request_id,
                            "model_name": "logistic",
                            "features": json.dumps(valid_features(i)),
                            "idempotency_key": f"traffic-{i}",
                            "subject_ref": None,
                            "api_key_id": None,
                        },
                    ).fetchone()
                    latencies.append(time.perf_counter() - started)
                    assert row is not None
                    submitted.append(request_id)
                    i += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    with running_listener(db_url, env={**stand_in_env, **LISTENER_ENV}, log=log) as proc:
        wait_listening(conn, proc, log=log)
        submitter = threading.Thread(target=submit_forever)
        submitter.start()
        time.sleep(1.0)
        wait_until(lambda: len(submitted) > 0 or bool(errors), 60)  # (asserted below, once stopped)
        before = len(latencies)
        # The current epoch already holds a request older than a millisecond's worth of partition:
        # the same run also opens a new epoch while requests keep arriving.
        report = run_retention(db_url, older_than_days=30, partition_hours=1e-6, actor="test")
        during = latencies[before:]
        time.sleep(1.0)
        # Traffic goes on into the epoch the run opened (polled: a loaded machine may be slow to insert;
        # asserted below, once stopped).
        wait_until(lambda: count(conn, "prediction_requests", "id >= 3 * request_epoch_width()") > 0, 60)
        stop.set()
        submitter.join(30)
        assert errors == []
        assert wait_until(
            lambda: count(conn, "prediction_requests", "status IN ('pending', 'running')") == 0, 60
        ), log.read_text()

    assert report.removed_epochs == [0, 1] and report.opened_epoch == 3
    assert report.rows["prediction_requests"] == 200_000
    assert len(submitted) > 0
    stored = conn.execute(
        "SELECT r.request_id::text, r.status, s.request_id IS NOT NULL FROM prediction_requests r"
        " LEFT JOIN prediction_results s ON s.request_id = r.id"
    ).fetchall()
    assert sorted(r[0] for r in stored) == sorted(submitted)  # nothing lost, nothing extra
    assert {(status, has_result) for _, status, has_result in stored} == {("completed", True)}
    assert count(conn, "prediction_requests", "id >= 3 * request_epoch_width()") > 0  # the new epoch serves
    print(
        f"{len(during)} inserts during the run ({report.seconds:.2f} s): slowest"
        f" {max(during, default=0) * 1000:.1f} ms; longest DDL {report.longest_ddl_seconds * 1000:.1f} ms,"
        f" longest attach or drop (inserts wait) {report.longest_blocking_seconds * 1000:.1f} ms"
    )


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_limit_that_is_not_positive_is_refused(db_url: str, days: str) -> None:
    done = retention_cli(db_url, "--older-than", days)
    assert done.returncode == 2 and "--older-than must be positive" in done.stderr


def test_a_member_of_futurisys_owner_runs_retention_and_the_application_roles_cannot(
    db_url: str, conn: psycopg.Connection
) -> None:
    fill_epoch(conn, 0, 1000, days_ago_from=60, days_ago_to=50)
    fill_epoch(conn, 1, 1000, days_ago_from=3, days_ago_to=2)
    make_current(conn, 1)
    conn.execute("ALTER SCHEMA public OWNER TO futurisys_owner")  # as a DBA sets a database up
    urls = {role: login_url(db_url, role) for role in ("owner", "api", "listener")}
    for role in ("api", "listener"):
        refused = retention_cli(db_url, "--older-than", "30", as_url=urls[role])
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert "permission denied" in refused.stderr or "must be owner" in refused.stderr, refused.stderr
    assert count(conn, "prediction_requests") == 2000

    done = retention_cli(db_url, "--older-than", "30", as_url=urls["owner"])
    assert done.returncode == 0, done.stderr
    assert "removed partition epochs 0" in done.stdout, done.stdout
    assert count(conn, "prediction_requests") == 1000
    # It opened epoch 2 (epoch 1 is two days old) and made epoch 3 ahead: futurisys_owner's, like all.
    others = conn.execute(
        "SELECT relname, relowner::regrole::text FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace"
        " AND relkind IN ('r', 'p') AND relowner <> 'futurisys_owner'::regrole"
    ).fetchall()
    assert others == []
    assert conn.execute("SELECT to_regclass('prediction_results_p3')").fetchone() != (None,)
