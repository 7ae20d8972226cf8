"""The listener's explanations, seen in SQL: at answer time, after a dead listener, for failed predictions."""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import pytest

from tests.listener.helpers import all_done, submit, valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.stack import real_env, running_listener

pytestmark = pytest.mark.slow


def explanations(conn: psycopg.Connection) -> dict[int, tuple[str, str, float, float, list[dict]]]:
    rows = conn.execute(
        "SELECT x.request_id, x.model_version, r.model_version, x.base_value, x.output_value, x.contributions"
        " FROM prediction_explanations x JOIN prediction_results r USING (request_id)"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_explain_at_answer_explains_every_answer_of_the_chosen_models_unasked(
    models_db: str, trained_store: Path, conn: psycopg.Connection, listener_log: Path
) -> None:
    env = real_env(trained_store, LISTENER_EXPLAIN_AT_ANSWER="logistic, dummy")
    with running_listener(models_db, env=env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        chosen = submit(conn, 30, "logistic", valid_features(1)) + submit(conn, 5, "dummy")
        other = submit(conn, 5, "random_forest")
        assert wait_until(all_done(conn, chosen + other), 60), log_text(listener_log)
        assert wait_until(lambda: len(explanations(conn)) == len(chosen), 60), log_text(listener_log)
    got = explanations(conn)
    assert set(got) == set(chosen)
    probabilities = dict(conn.execute("SELECT request_id, probability FROM prediction_results").fetchall())
    for request_id, (explained_version, answered_version, base, output, contributions) in got.items():
        assert explained_version == answered_version
        assert base + sum(c["contribution"] for c in contributions) == pytest.approx(output, abs=1e-9)
        p = probabilities[request_id]
        expected = math.log(p / (1 - p)) if request_id in chosen[:30] else p
        assert output == pytest.approx(expected, abs=1e-6)
    # Nobody asked: no explanation request rows were made.
    assert conn.execute("SELECT count(*) FROM explanation_requests").fetchone() == (0,)


def ask(conn: psycopg.Connection, ids: list[int]) -> None:
    conn.execute("INSERT INTO explanation_requests (request_id) SELECT unnest(%s::bigint[])", [ids])


def test_explanations_a_dead_listener_held_are_computed_again_or_given_up(
    models_db: str, trained_store: Path, conn: psycopg.Connection, listener_log: Path
) -> None:
    env = real_env(trained_store, LISTENER_SWEEP_SECONDS="0.5")
    with running_listener(models_db, env=env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        ids = submit(conn, 4, "random_forest_e04")
        assert wait_until(all_done(conn, ids), 60), log_text(listener_log)
        # Claimed by a listener that died: the lease ran out, once after one attempt, once after three.
        conn.execute(
            "INSERT INTO explanation_requests (request_id, status, claimed_by, lease_until, attempts)"
            " SELECT id, 'running', 'ghost:1:0', now() - interval '1 minute', a"
            " FROM unnest(%s::bigint[], %s::int[]) AS t(id, a)",
            [ids[:2], [1, 3]],
        )
        done = (
            "SELECT request_id, status, error FROM explanation_requests"
            " WHERE status IN ('completed', 'failed')"
        )
        assert wait_until(lambda: len(conn.execute(done).fetchall()) == 2, 20), log_text(listener_log)
    got = {r[0]: r[1:] for r in conn.execute(done).fetchall()}
    assert got[ids[0]] == ("completed", None)
    assert got[ids[1]][0] == "failed" and "gave up after 3 attempts" in got[ids[1]][1]
    assert set(explanations(conn)) == {ids[0]}


def test_an_explanation_asked_before_its_prediction_failed_fails_with_the_reason(
    models_db: str, trained_store: Path, conn: psycopg.Connection, listener_log: Path
) -> None:
    [request] = submit(conn, 1, "logistic", {**valid_features(), "over_time": "Sometimes"})
    ask(conn, [request])
    with running_listener(models_db, env=real_env(trained_store), log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        query = "SELECT status, error FROM explanation_requests WHERE request_id = %s"
        assert wait_until(lambda: conn.execute(query, [request]).fetchone()[0] == "failed", 20), log_text(
            listener_log
        )
    status, error = conn.execute(query, [request]).fetchone()
    assert status == "failed"
    assert "the prediction failed" in error and "over_time" in error
