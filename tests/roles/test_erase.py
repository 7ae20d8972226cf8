"""`python -m sql erase --subject-ref REF`: one subject leaves every table, in one transaction, and the
audit trail says so without saying who."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from service.app import create_app
from service.settings import ApiSettings
from tests.api.conftest import employee, in_process
from tests.listener.helpers import valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.logins import login_url
from tests.stack import real_env, run_module, running_listener

ERASED = "E-1001"
KEPT = "E-2002"


def erase_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "sql", "erase", *args)


def rows_mentioning(conn: psycopg.Connection, needle: str) -> dict[str, int]:
    """Rows of every table of the schema whose text holds `needle`, per table (only tables with some)."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT oid::regclass::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
            " AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY 1"
        ).fetchall()
    ]
    found = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {} AS t WHERE t::text LIKE %s").format(sql.Identifier(table))
        (n,) = conn.execute(query, [f"%{needle}%"]).fetchone()
        if n:
            found[table] = n
    return found


@pytest.fixture
def listener(models_db: str, trained_store: Path, conn: psycopg.Connection, tmp_path: Path) -> Iterator[Path]:
    """A real listener (its own login role) with the real models, explaining logistic answers at once."""
    log = tmp_path / "listener.log"
    env = real_env(trained_store, LISTENER_EXPLAIN_AT_ANSWER="logistic")
    with running_listener(models_db, env=env, log=log) as proc:
        wait_listening(conn, proc, log=log)
        yield log


@pytest.fixture
async def api(models_db: str, trained_store: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, logged in as futurisys_api."""
    settings = ApiSettings(
        database_url=models_db,
        api_database_url=login_url(models_db, "api"),
        env="dev",
        model_store_dir=trained_store,
    )
    async with in_process(create_app(settings)) as client:
        yield client


async def answered(api: httpx.AsyncClient, subject_ref: str, age: int) -> str:
    body = {"model_name": "logistic", "features": employee(age=age), "subject_ref": subject_ref}
    response = await api.post("/predictions/request?wait=20", json=body)
    assert response.status_code == 200, response.text
    return response.json()["request_id"]


@pytest.mark.anyio
@pytest.mark.slow
async def test_erasing_a_subject_leaves_none_of_its_rows_and_one_anonymous_audit_event(
    api: httpx.AsyncClient, listener: Path, conn: psycopg.Connection, models_db: str
) -> None:
    erased = [await answered(api, ERASED, age) for age in (30, 41)]
    kept = [await answered(api, KEPT, 52)]
    batch = await api.post(
        "/predictions/batch",
        json={"model_name": "logistic", "items": [{"features": employee(age=33), "subject_ref": ERASED}]},
    )
    assert batch.status_code == 202, batch.text
    erased += batch.json()["request_ids"]
    assert wait_until(
        lambda: conn.execute("SELECT count(*) FROM prediction_explanations").fetchone() == (4,), 30
    ), log_text(listener)
    now = datetime.now(UTC).isoformat()
    outcomes = await api.post(
        "/outcomes",
        json={"items": [{"subject_ref": s, "label": 1, "observed_at": now} for s in (ERASED, KEPT)]},
    )
    assert outcomes.status_code == 200 and outcomes.json()["recorded"] == 4, outcomes.text
    assert rows_mentioning(conn, ERASED) == {"prediction_requests": 3}

    done = erase_cli(models_db, "--subject-ref", ERASED)

    assert done.returncode == 0, done.stderr
    assert "erased 12 row(s)" in done.stdout, done.stdout
    derived = ("prediction_results", "prediction_outcomes", "prediction_explanations")
    for table in ("prediction_requests", *derived):
        assert f"{table} 3" in done.stdout, done.stdout
    for needle in [ERASED, *erased]:
        assert rows_mentioning(conn, needle) == {}, needle
    for gone in erased:
        assert (await api.get(f"/predictions/{gone}")).status_code == 404
    # The other subject keeps everything.
    kept_answer = (await api.get(f"/predictions/{kept[0]}")).json()
    assert kept_answer["result"] is not None and kept_answer["subject_ref"] == KEPT
    assert (await api.get(f"/predictions/{kept[0]}/explanation")).status_code == 200
    assert conn.execute("SELECT count(*) FROM prediction_outcomes").fetchone() == (1,)
    # One audit event: who, and how many rows, never which subject.
    events = conn.execute(
        "SELECT actor, subject, details FROM audit_events WHERE action = 'data.erased'"
    ).fetchall()
    assert len(events) == 1
    actor, subject, details = events[0]
    assert actor.startswith("cli:") and subject is None
    assert details["rows"]["prediction_requests"] == 3 and details["rows"]["prediction_results"] == 3
    assert f"audit event {conn.execute('SELECT max(id) FROM audit_events').fetchone()[0]}" in done.stdout


def test_a_dry_run_counts_and_erases_nothing(conn: psycopg.Connection, db_url: str) -> None:
    conn.execute(
        "INSERT INTO prediction_requests (model_name, features, subject_ref) VALUES ('logistic', %s, %s)",
        [json.dumps(valid_features()), ERASED],
    )
    done = erase_cli(db_url, "--subject-ref", ERASED, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "dry run, nothing erased: would erase 1 row(s)" in done.stdout
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (0,)


@pytest.mark.parametrize("ref", ["", "x" * 201])
def test_a_missing_or_overlong_reference_is_refused(db_url: str, ref: str) -> None:
    done = erase_cli(db_url, "--subject-ref", ref)
    assert done.returncode == 2 and "1 to 200 characters" in done.stderr


def test_a_subject_with_no_rows_is_still_recorded_as_erased(conn: psycopg.Connection, db_url: str) -> None:
    done = erase_cli(db_url, "--subject-ref", "nobody-here")
    assert done.returncode == 0 and "erased 0 row(s)" in done.stdout, done.stdout + done.stderr
    assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'data.erased'").fetchone() == (1,)


def test_the_api_role_may_not_erase(db_url: str) -> None:
    done = erase_cli(login_url(db_url, "api"), "--subject-ref", ERASED)
    assert done.returncode == 1 and "permission denied" in done.stderr, done.stderr


def test_erasing_while_a_listener_answers_loses_no_one_elses_request(
    db_url: str, conn: psycopg.Connection, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    """Rows of the subject claimed by a listener are erased under it; it skips them and finishes the rest."""
    features = json.dumps(valid_features())
    conn.execute(
        "INSERT INTO prediction_requests (model_name, features, subject_ref)"
        " SELECT 'logistic', %s::jsonb, CASE WHEN g %% 2 = 0 THEN %s ELSE 'other-' || g END"
        " FROM generate_series(1, 20000) AS g",
        [features, ERASED],
    )
    log = tmp_path / "listener.log"
    env = {**stand_in_env, "LISTENER_SWEEP_SECONDS": "60", "LISTENER_BATCH_SIZE": "32"}
    with running_listener(db_url, env=env, log=log) as proc:
        wait_until(lambda: conn.execute("SELECT count(*) FROM prediction_results").fetchone()[0] > 0, 30)
        done = erase_cli(db_url, "--subject-ref", ERASED)
        assert done.returncode == 0, done.stderr
        assert wait_until(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM prediction_requests WHERE status IN ('pending', 'running')"
                ).fetchone()
                == (0,)
            ),
            60,
        ), log_text(log)
        assert proc.poll() is None, log_text(log)
    assert "prediction_requests 10000" in done.stdout
    assert conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE r.status = 'completed' AND p.id IS NOT NULL)"
        " FROM prediction_requests r LEFT JOIN prediction_results p ON p.request_id = r.id"
    ).fetchone() == (10000, 10000)
    assert rows_mentioning(conn, ERASED) == {}


def test_a_table_added_later_that_points_at_requests_is_erased_too(
    conn: psycopg.Connection, db_url: str
) -> None:
    """A future table with a foreign key to prediction_requests needs no change to the erasure."""
    conn.execute(
        "CREATE TABLE later_derived"
        " (request_id bigint NOT NULL REFERENCES prediction_requests (id), note text)"
    )
    conn.execute("ALTER TABLE later_derived OWNER TO futurisys_owner")  # as python -m sql does
    ids = [
        conn.execute(
            "INSERT INTO prediction_requests (model_name, features, subject_ref) VALUES ('logistic', %s, %s)"
            " RETURNING id",
            [json.dumps(valid_features()), ref],
        ).fetchone()[0]
        for ref in (ERASED, KEPT)
    ]
    conn.execute("INSERT INTO later_derived SELECT id, 'derived' FROM unnest(%s::bigint[]) AS id", [ids])
    done = erase_cli(db_url, "--subject-ref", ERASED)
    assert done.returncode == 0, done.stderr
    assert "later_derived 1" in done.stdout and "prediction_requests 1" in done.stdout, done.stdout
    assert conn.execute("SELECT request_id FROM later_derived").fetchall() == [(ids[1],)]


def test_an_erasure_that_cannot_finish_erases_nothing(conn: psycopg.Connection, db_url: str) -> None:
    """A row two steps away (pointing at a result, not a request) blocks the erasure: all or nothing."""
    conn.execute(
        "CREATE TABLE result_notes"
        " (answer_of bigint NOT NULL REFERENCES prediction_results (request_id), note text)"
    )
    conn.execute("ALTER TABLE result_notes OWNER TO futurisys_owner")
    (request,) = conn.execute(
        "INSERT INTO prediction_requests (model_name, features, subject_ref) VALUES ('logistic', %s, %s)"
        " RETURNING id",
        [json.dumps(valid_features()), ERASED],
    ).fetchone()
    conn.execute(
        "INSERT INTO prediction_results (request_id, prediction, probability, model_version, model_sha256)"
        " VALUES (%s, 1, 0.9, 'v1', repeat('a', 64))",
        [request],
    )
    conn.execute("INSERT INTO result_notes VALUES (%s, 'x')", [request])
    done = erase_cli(db_url, "--subject-ref", ERASED)
    assert done.returncode == 1 and "nothing erased" in done.stderr and "result_notes" in done.stderr
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM prediction_results").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (0,)
