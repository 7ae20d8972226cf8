"""Shadow challengers in a real listener process: every completed request of the default model gets exactly
one shadow row per challenger, the client's answer stays the default's, other models' requests are not
shadowed, shadows start and stop without a restart, and a challenger that cannot answer leaves the answers
untouched (its rows say why)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from model_store.errors import ModelError
from model_store.pipelines import DEFAULT_MODEL
from model_store.shadows import start_shadow, stop_shadow
from model_store.stand_ins import STAND_IN_VERSION, THRESHOLDS, StandInPredictor, stand_in_sha256
from tests.listener.helpers import all_done, submit, valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.stack import running_listener


def register_stand_in(conn: psycopg.Connection, name: str, version: str = STAND_IN_VERSION) -> None:
    """A model_versions row for a stand-in (a shadow's row needs a version); kept as it is when the stand-in
    store is deployed (the `stand_in_env` fixture), whose rows name its artifacts."""
    conn.execute(
        "INSERT INTO model_versions"
        " (model_name, version, artifact_path, sha256, sklearn_version, threshold, feature_schema)"
        " VALUES (%s, %s, '', %s, 'stand-in', %s, '[]') ON CONFLICT DO NOTHING",
        (name, version, stand_in_sha256(name), THRESHOLDS[name]),
    )


def answers(conn: psycopg.Connection, ids: list[int]) -> list[tuple]:
    return conn.execute(
        "SELECT r.id, r.status, res.model_version, res.probability, s.model_name, s.model_version,"
        " s.probability, s.prediction, s.error"
        " FROM prediction_requests r LEFT JOIN prediction_results res ON res.request_id = r.id"
        " LEFT JOIN shadow_predictions s ON s.request_id = r.id"
        " WHERE r.id = ANY(%s) ORDER BY r.id, s.model_name",
        [ids],
    ).fetchall()


def shadow_rows(conn: psycopg.Connection, ids: list[int]) -> int:
    row = conn.execute("SELECT count(*) FROM shadow_predictions WHERE request_id = ANY(%s)", [ids]).fetchone()
    return row[0] if row else 0


def shadowed_batch(conn: psycopg.Connection) -> int:
    """Submit 5 requests to the default; how many shadow rows they got. A second request answered after
    them proves the one listener finished scoring them (shadow rows follow the answers' commit)."""
    ids = submit(conn, 5, DEFAULT_MODEL)
    assert wait_until(all_done(conn, ids), 20)
    assert wait_until(all_done(conn, submit(conn, 1, "dummy")), 20)
    return shadow_rows(conn, ids)


def test_each_answer_of_the_default_gets_one_shadow_row_per_challenger(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    for name in ("logistic", "random_forest"):
        register_stand_in(conn, name)
    start_shadow(db_url, "logistic")
    start_shadow(db_url, "random_forest")
    features = [valid_features(seed) for seed in range(40)]
    with running_listener(db_url, env=stand_in_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        ids = [i for f in features for i in submit(conn, 1, DEFAULT_MODEL, f)]
        other = submit(conn, 5, "dummy")
        assert wait_until(all_done(conn, ids + other), 30), log_text(listener_log)
        assert wait_until(lambda: shadow_rows(conn, ids) == 2 * len(ids), 10), log_text(listener_log)

    rows = answers(conn, ids)
    assert len(rows) == 2 * len(ids)
    assert all(r[1] == "completed" and r[2] == STAND_IN_VERSION and r[8] is None for r in rows)
    default = StandInPredictor(DEFAULT_MODEL).proba(features)
    for name in ("logistic", "random_forest"):
        mine = [r for r in rows if r[4] == name]
        assert [r[0] for r in mine] == ids  # exactly one row per request and challenger
        expected = StandInPredictor(name).proba(features)
        np.testing.assert_allclose([r[6] for r in mine], expected, rtol=0, atol=1e-12)
        assert [r[7] for r in mine] == (expected >= THRESHOLDS[name]).astype(int).tolist()
        # The client's answer is the default's, not the challenger's.
        np.testing.assert_allclose([r[3] for r in mine], default, rtol=0, atol=1e-12)
    assert shadow_rows(conn, other) == 0  # requests for another model are not the default's traffic


def test_shadows_start_and_stop_in_a_running_listener(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str]
) -> None:
    register_stand_in(conn, "logistic")
    with running_listener(db_url, env=stand_in_env, log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        before = submit(conn, 10, DEFAULT_MODEL)
        assert wait_until(all_done(conn, before), 30), log_text(listener_log)

        start_shadow(db_url, "logistic")  # NOTIFY model_promoted: the listener rereads its shadows
        # The notification and the next claim race: submit until a batch is scored.
        assert wait_until(lambda: shadowed_batch(conn) == 5, 20, interval=0.1), log_text(listener_log)
        during = submit(conn, 10, DEFAULT_MODEL)
        assert wait_until(lambda: shadow_rows(conn, during) == 10, 20), log_text(listener_log)

        stop_shadow(db_url, "logistic")
        assert wait_until(lambda: shadowed_batch(conn) == 0, 20, interval=0.1), log_text(listener_log)
        after = submit(conn, 10, DEFAULT_MODEL)
        assert wait_until(all_done(conn, after), 30), log_text(listener_log)
    assert shadow_rows(conn, before) == 0 and shadow_rows(conn, after) == 0
    events = conn.execute(
        "SELECT action, subject FROM audit_events WHERE action LIKE 'model.shadow%%' ORDER BY id"
    ).fetchall()
    assert events == [("model.shadow_started", "logistic"), ("model.shadow_stopped", "logistic")]


def test_the_default_cannot_shadow_itself(db_url: str, conn: psycopg.Connection) -> None:
    register_stand_in(conn, "logistic")
    conn.execute("INSERT INTO model_deployments VALUES ('logistic', %s, true)", [STAND_IN_VERSION])
    with pytest.raises(ModelError, match="its own shadow"):
        start_shadow(db_url, "logistic")
    with pytest.raises(ModelError, match="no registered version 'nope'"):
        start_shadow(db_url, "logistic", "nope")
    assert stop_shadow(db_url, "logistic") is None
