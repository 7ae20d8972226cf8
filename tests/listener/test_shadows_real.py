"""Shadows, promotion and rollback with the real trained models and the real processes: a challenger whose
artifact is refused leaves every answer as it was; a good one answers exactly what the model gives; a
promotion then a rollback while requests flow move the answers to the new version and back, none fails,
and the trail records both."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest

from model_store.data import load_attrition
from model_store.registration import register_manifest
from model_store.registry import ModelRegistry
from model_store.shadows import start_shadow
from tests.listener.helpers import all_done, submit_rows, valid_features, wait_until
from tests.listener.procs import log_text, wait_listening
from tests.model_store.helpers import add_logistic_version
from tests.stack import real_env, run_module, running_api, running_listener

pytestmark = pytest.mark.slow


@pytest.fixture
def store(db_url: str, store: Path) -> Path:
    """The test's copy of the trained store (tests/conftest.py), registered in its database."""
    register_manifest(db_url, store)
    return store


def test_a_refused_challenger_leaves_the_answers_untouched_and_a_good_one_scores_each(
    db_url: str, conn: psycopg.Connection, store: Path, listener_log: Path
) -> None:
    newer = add_logistic_version(db_url, store, load_attrition(), C=0.05)
    artifact = store / newer["file"]
    artifact.write_bytes(artifact.read_bytes() + b"\0")  # its sha256 is no longer the registered one
    start_shadow(db_url, "logistic", newer["version"])
    start_shadow(db_url, "random_forest")
    [default] = conn.execute("SELECT model_name FROM model_deployments WHERE is_default").fetchone()
    features = [valid_features(seed) for seed in range(60)]

    with running_listener(db_url, env=real_env(store), log=listener_log) as proc:
        wait_listening(conn, proc, log=listener_log)
        ids = submit_rows(conn, [(default, f) for f in features])
        assert wait_until(all_done(conn, ids), 60), log_text(listener_log)
        assert wait_until(lambda: shadow_count(conn, ids) == 2 * len(ids), 30), log_text(listener_log)
        assert proc.poll() is None

    registry = ModelRegistry(db_url, store)
    rows = conn.execute(
        "SELECT r.status, res.model_version, res.probability FROM prediction_requests r"
        " JOIN prediction_results res ON res.request_id = r.id WHERE r.id = ANY(%s) ORDER BY r.id",
        [ids],
    ).fetchall()
    primary = registry.get(default)
    assert [r[0] for r in rows] == ["completed"] * len(ids)
    assert {r[1] for r in rows} == {primary.version}
    np.testing.assert_allclose([r[2] for r in rows], primary.predict(features)[1], rtol=0, atol=1e-12)

    refused = shadows_of(conn, ids, "logistic")
    assert [r[0] for r in refused] == [None] * len(ids)
    assert all("sha256" in r[2] and str(store) not in r[2] for r in refused)
    good = shadows_of(conn, ids, "random_forest")
    assert [r[2] for r in good] == [None] * len(ids)
    expected = registry.get("random_forest").predict(features)[1]
    np.testing.assert_allclose([r[0] for r in good], expected, rtol=0, atol=1e-12)
    assert {r[1] for r in good} == {registry.get("random_forest").version}


def shadow_count(conn: psycopg.Connection, ids: list[int]) -> int:
    row = conn.execute("SELECT count(*) FROM shadow_predictions WHERE request_id = ANY(%s)", [ids]).fetchone()
    return row[0] if row else 0


def shadows_of(conn: psycopg.Connection, ids: list[int], name: str) -> list[tuple]:
    return conn.execute(
        "SELECT probability, model_version, error FROM shadow_predictions"
        " WHERE request_id = ANY(%s) AND model_name = %s ORDER BY request_id",
        [ids, name],
    ).fetchall()


def model_store_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(db_url, "model_store", *args, env={"ENV": "dev"}, timeout=120)


class Traffic:
    """A client submitting and waiting, one request after another, in a thread: who answered each."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answers: list[tuple[str, str | None, str]] = []  # (model_name, model_version, status)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=45) as client:
            seed = 0
            while not self._stop.is_set():
                seed += 1
                response = client.post(
                    "/predictions/request?wait=30", json={"features": valid_features(seed)}
                )
                body = response.json()
                result = body.get("result") or {}
                self.answers.append((body.get("model_name"), result.get("model_version"), body.get("status")))

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def last(self) -> tuple[str, str | None, str] | None:
        return self.answers[-1] if self.answers else None

    def wait_for(self, model: str, timeout: float = 30) -> bool:
        count = len(self.answers)
        return wait_until(lambda: len(self.answers) > count and self.answers[-1][0] == model, timeout, 0.05)


def runs(answers: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None]]:
    """The answering (model, version) in order, consecutive repeats collapsed."""
    out: list[tuple[str, str | None]] = []
    for name, version, _ in answers:
        if not out or out[-1] != (name, version):
            out.append((name, version))
    return out


def test_promote_then_rollback_while_requests_flow(
    db_url: str, conn: psycopg.Connection, store: Path, listener_log: Path, tmp_path: Path
) -> None:
    [(old, old_version)] = conn.execute(
        "SELECT model_name, version FROM model_deployments WHERE is_default"
    ).fetchall()
    [new_version] = conn.execute(
        "SELECT version FROM model_deployments WHERE model_name = 'logistic'"
    ).fetchone()
    [start] = conn.execute("SELECT coalesce(max(id), 0) FROM audit_events").fetchone()
    with (
        running_listener(db_url, env=real_env(store), log=listener_log) as proc,
        running_api(db_url, env={"ENV": "dev"}, log=tmp_path / "api.log") as base,
    ):
        wait_listening(conn, proc, log=listener_log)
        with Traffic(base) as traffic:
            assert traffic.wait_for(old), log_text(listener_log)
            promoted = model_store_cli(
                db_url, "promote", "logistic", "--force", "--reason", "try the challenger"
            )
            assert promoted.returncode == 0, promoted.stderr
            assert traffic.wait_for("logistic"), log_text(listener_log)
            seen_before_rollback = list(traffic.answers)  # answered, so committed, before the rollback ran
            rolled = model_store_cli(db_url, "rollback", "--reason", "worse live")
            assert rolled.returncode == 0, rolled.stderr
            assert f"{old} {old_version} again" in rolled.stdout
            assert traffic.wait_for(old), log_text(listener_log)
        assert proc.poll() is None  # nothing restarted

    assert {status for _, _, status in traffic.answers} == {"completed"}
    assert runs(traffic.answers) == [(old, old_version), ("logistic", new_version), (old, old_version)]
    events = conn.execute(
        "SELECT action, subject, details FROM audit_events WHERE id > %s ORDER BY id", [start]
    ).fetchall()
    assert [(a, s) for a, s, _ in events] == [("model.promoted", "logistic"), ("model.rolled_back", old)]
    assert events[0][2]["from_default"] == {"model": old, "version": old_version}
    assert events[0][2]["reason"] == "try the challenger"
    assert events[1][2]["from_default"] == {"model": "logistic", "version": new_version}
    assert events[1][2]["reason"] == "worse live"
    evidence = events[1][2]["evidence"]  # what the rolled-back version did live, kept with the rollback
    assert (evidence["model"], evidence["version"]) == ("logistic", new_version)
    # The evidence counts every logistic answer a client had before the rollback started, and none it never
    # gave; answers the listener wrote while the rollback ran (before its NOTIFY switched it) may or may not.
    answered_before = sum(1 for name, _, _ in seen_before_rollback if name == "logistic")
    answered = sum(1 for name, _, _ in traffic.answers if name == "logistic")
    assert 0 < answered_before <= evidence["predictions"] <= answered
    assert evidence["labelled"] == 0 and evidence["roc_auc"] is None

    again = model_store_cli(db_url, "rollback", "dummy")  # dummy never changed: nothing to go back to
    assert again.returncode == 1 and "nothing before it" in again.stderr
