"""No shadow row is lost: answers whose shadow rows were never written (the listener died between the two
commits) are scored by the catch-up of the lease sweep, exactly once per request and challenger, only for
requests submitted since the shadow started; and shadow rows, which have no foreign key (schema 021), never
outlive the erasure of their request, whichever of the two commits first."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest

import listener.shadows as shadows_module
from listener.claims import claim_pending, record_outcomes
from listener.inference import infer_batch
from listener.shadows import ShadowRows, ShadowScoring, write_shadow_rows
from model_store.deployments import DeployedModel
from model_store.pipelines import DEFAULT_MODEL
from model_store.shadows import Shadow, start_shadow
from model_store.stand_ins import THRESHOLDS, StandInPredictor
from sql.named_queries import QUERIES
from tests.listener.helpers import FakeHandle, FakeRegistry, all_done, submit, valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.listener.test_shadows import register_stand_in
from tests.stack import running_listener

SHADOW = DeployedModel("logistic", "v-shadow", False, "cd" * 32, 0.5, "x", "")


class DefaultRegistry(FakeRegistry):
    def default_name(self) -> str:
        return DEFAULT_MODEL


class Fixed:
    def __init__(self, *shadows: Shadow) -> None:
        self.shadows = list(shadows)

    def refresh(self, conn: psycopg.Connection) -> list[Shadow]:
        return self.shadows


@pytest.fixture
def no_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers are caught up at once (a listener waits a few seconds for the one that answered)."""
    monkeypatch.setattr(shadows_module, "CATCH_UP_GRACE_SECONDS", 0.0)


def attach(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, threshold,"
        " feature_schema) VALUES ('logistic', 'v-shadow', '', %s, 'x', 0.5, '[]')",
        ["cd" * 32],
    )
    conn.execute("INSERT INTO model_shadows (model_name, version) VALUES ('logistic', 'v-shadow')")


def answer(conn: psycopg.Connection, registry: FakeRegistry, n: int) -> tuple[list, object]:
    """n requests of the default answered and committed, their shadow rows never written."""
    submit(conn, n, DEFAULT_MODEL)
    claims = claim_pending(conn, "killed", 1000, 30)
    outcome = infer_batch(registry, claims, lambda: False)
    record_outcomes(conn, "killed", outcome)
    return claims, outcome


def shadow_ids(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT request_id FROM shadow_predictions ORDER BY request_id")]


def test_answers_left_without_shadow_rows_are_caught_up_once(
    conn: psycopg.Connection, no_grace: None
) -> None:
    registry = DefaultRegistry(DEFAULT_MODEL, "dummy")
    before = submit(conn, 3, DEFAULT_MODEL)  # submitted before the shadow started: not its traffic
    record_outcomes(conn, "x", infer_batch(registry, claim_pending(conn, "x", 10, 30), lambda: False))
    attach(conn)
    submit(conn, 5, "dummy")  # another model's requests are never shadowed
    claims, outcome = answer(conn, registry, 40)
    pending = submit(conn, 1, DEFAULT_MODEL)  # not answered yet
    scoring = ShadowScoring("next", Fixed(Shadow(SHADOW, FakeHandle("logistic", "v-shadow"))))
    scoring.refresh(conn)

    assert scoring.catch_up(conn, registry) == 40
    answered = [c.id for c in claims if c.model_name == DEFAULT_MODEL]
    assert shadow_ids(conn) == answered and not set(before) & set(shadow_ids(conn))
    assert scoring.catch_up(conn, registry) == 0  # nothing twice
    scoring.score(conn, registry, claims, outcome)  # the batch's own scorer, late: no second row
    assert shadow_ids(conn) == answered

    # The request still open holds the catch-up back: once answered (and its shadow row lost), it is found.
    later = claim_pending(conn, "killed", 10, 30)
    assert [c.id for c in later] == pending
    record_outcomes(conn, "killed", infer_batch(registry, later, lambda: False))
    assert scoring.catch_up(conn, registry) == 1
    assert shadow_ids(conn) == answered + pending


def test_the_catch_up_scores_a_bounded_slice_per_sweep(
    conn: psycopg.Connection, no_grace: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shadows_module, "CATCH_UP_SCORE_ROWS", 7)
    monkeypatch.setattr(shadows_module, "CATCH_UP_SCAN_ROWS", 10)
    registry = DefaultRegistry(DEFAULT_MODEL)
    attach(conn)
    claims, _ = answer(conn, registry, 30)
    scoring = ShadowScoring("next", Fixed(Shadow(SHADOW, FakeHandle("logistic", "v-shadow"))))
    scoring.refresh(conn)
    slices = []
    for _ in range(6):
        scoring.refresh(conn)  # as on each sweep with --poll-only: the same shadows, the catch-up goes on
        slices.append(scoring.catch_up(conn, registry))
    assert slices == [7, 7, 7, 7, 2, 0]
    assert shadow_ids(conn) == [c.id for c in claims]


def test_erasure_removes_shadow_rows_and_a_racing_shadow_write_leaves_none(
    db_url: str, conn: psycopg.Connection
) -> None:
    registry = DefaultRegistry(DEFAULT_MODEL)
    attach(conn)
    claims, outcome = answer(conn, registry, 4)
    ids = [c.id for c in claims]
    conn.execute("UPDATE prediction_requests SET subject_ref = 'E-1' WHERE id = ANY(%s)", [ids[:2]])
    scoring = ShadowScoring("l", Fixed(Shadow(SHADOW, FakeHandle("logistic", "v-shadow"))))
    scoring.refresh(conn)
    scoring.score(conn, registry, claims, outcome)
    assert shadow_ids(conn) == ids

    erased = dict(conn.execute("SELECT * FROM erase_subject('E-1')").fetchall())
    assert erased["shadow_predictions"] == 2 and erased["prediction_requests"] == 2
    assert shadow_ids(conn) == ids[2:]

    # A shadow write in flight (its transaction holds the shared lock) when the erasure starts: the erasure
    # waits for its commit, then deletes its row too.
    conn.execute("UPDATE prediction_requests SET subject_ref = 'E-2' WHERE id = %s", [ids[2]])
    conn.execute("DELETE FROM shadow_predictions WHERE request_id = %s", [ids[2]])
    rows = ShadowRows()
    rows.add_answers(SHADOW, "cd" * 32, [ids[2]], [1], [0.75])
    writer = psycopg.connect(db_url)
    writer.execute(QUERIES["lock_shadow_writes"])
    writer.execute(QUERIES["record_shadow_rows"], rows.params())
    done: dict[str, int] = {}

    def erase() -> None:
        with psycopg.connect(db_url, autocommit=True) as eraser:
            done.update(eraser.execute("SELECT * FROM erase_subject('E-2')").fetchall())

    thread = threading.Thread(target=erase)
    thread.start()
    assert wait_until(lambda: waiting_on_the_shadow_lock(conn) == 1, 10)
    writer.commit()
    thread.join(10)
    writer.close()
    assert done["shadow_predictions"] == 1 and shadow_ids(conn) == ids[3:]

    # An erasure holding the lock: the listener waits at most its lock timeout and writes nothing; after the
    # erasure's commit the request is gone, and its row is not written either.
    conn.execute("UPDATE prediction_requests SET subject_ref = 'E-3' WHERE id = %s", [ids[3]])
    conn.execute("DELETE FROM shadow_predictions")
    rows = ShadowRows()
    rows.add_errors(SHADOW, [ids[3]], "shadow not loaded")
    with psycopg.connect(db_url) as eraser:
        eraser.execute("SELECT * FROM erase_subject('E-3')").fetchall()
        assert write_shadow_rows(conn, rows) is False
        eraser.commit()
    assert write_shadow_rows(conn, rows) is True
    assert shadow_ids(conn) == []


def waiting_on_the_shadow_lock(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return row[0] if row else 0


@pytest.mark.slow
def test_a_listener_killed_before_writing_its_shadow_rows_loses_none_of_them(
    db_url: str, conn: psycopg.Connection, listener_log: Path, stand_in_env: dict[str, str], tmp_path: Path
) -> None:
    """Real processes: the first listener answers while an erasure-side lock keeps its shadow rows from being
    written, and is SIGKILLed holding answers without shadow rows; the next one writes each exactly once."""
    register_stand_in(conn, "logistic")
    start_shadow(db_url, "logistic")
    features = [valid_features(seed) for seed in range(50)]
    env = {**stand_in_env, "LISTENER_SWEEP_SECONDS": "1"}
    blocker = psycopg.connect(db_url)
    blocker.execute("SELECT pg_advisory_xact_lock(shadow_writes_lock_key())")
    with running_listener(db_url, env=env, log=listener_log) as first:
        wait_listening(conn, first, log=listener_log)
        ids = [i for f in features for i in submit(conn, 1, DEFAULT_MODEL, f)]
        assert wait_until(all_done(conn, ids), 30), log_text(listener_log)
        left = wait_until(lambda: "left to the catch-up" in log_text(listener_log), 10)
        assert left, log_text(listener_log)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert shadow_ids(conn) == []
    blocker.rollback()
    blocker.close()

    second_log = tmp_path / "second.log"
    with running_listener(db_url, env=env, log=second_log) as second:
        wait_listening(conn, second, log=second_log)
        assert wait_until(lambda: len(shadow_ids(conn)) == len(ids), 30), log_text(second_log)
    rows = conn.execute(
        "SELECT request_id, model_name, probability, prediction, error FROM shadow_predictions ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ids  # exactly one row per request
    expected = StandInPredictor("logistic").proba(features)
    np.testing.assert_allclose([r[2] for r in rows], expected, rtol=0, atol=1e-12)
    assert [r[3] for r in rows] == (expected >= THRESHOLDS["logistic"]).astype(int).tolist()
    assert {r[1] for r in rows} == {"logistic"} and {r[4] for r in rows} == {None}
