"""The registry against a real database: hash checks, lazy loading, promotion without restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import psycopg
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline

from model_store.data import TrainingData
from model_store.errors import ArtifactRejected, ModelError, UnknownModel
from model_store.loading import SklearnVersionMismatch, force_single_thread
from model_store.manifest import sha256_hex
from model_store.registration import promote
from model_store.registry import ModelRegistry
from model_store.training import Split
from tests.model_store.helpers import add_logistic_version, entry_for, register


class Clock:
    """The registry's clock (its `monotonic`), moved by the test: a backoff is read exactly, however
    busy the machine, and sat out without sleeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr("model_store.registry.monotonic", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def registry(registered: tuple[str, Path]) -> ModelRegistry:
    conninfo, store = registered
    return ModelRegistry(conninfo, store)


def test_registry_serves_every_deployed_model_matching_scikit_learn(
    registered: tuple[str, Path], manifest: dict[str, Any], test_rows: list[dict[str, Any]], split: Split
) -> None:
    reg = registry(registered)
    pipelines = {n: joblib.load(registered[1] / e["file"]) for n, e in manifest["models"].items()}
    assert reg.names() == sorted(manifest["models"])
    assert reg.default_name() == "random_forest_e04"
    assert reg.get(None) is reg.get("random_forest_e04")
    for name, entry in manifest["models"].items():
        handle = reg.get(name)
        assert (handle.name, handle.version, handle.sha256) == (name, entry["version"], entry["sha256"])
        classes, proba = handle.predict(test_rows)
        assert classes.dtype == np.int64 and proba.dtype == np.float64 and len(proba) == len(test_rows)
        np.testing.assert_array_equal(classes, (proba >= entry["threshold"]).astype(int))
        reference = pipelines[name].predict_proba(split.X_test)[:, 1]
        np.testing.assert_allclose(proba, reference, rtol=0, atol=1e-5)
        assert proba.min() >= 0 and proba.max() <= 1
    assert reg.get("logistic").predict([])[0].shape == (0,)


def test_forests_are_forced_to_one_job() -> None:
    pipeline = Pipeline([("model", RandomForestClassifier(n_jobs=-1))])
    force_single_thread(pipeline)
    assert pipeline.named_steps["model"].n_jobs == 1


def test_tampered_artifact_is_refused_with_both_hashes_and_other_models_keep_serving(
    registered: tuple[str, Path], manifest: dict[str, Any], test_rows: list[dict[str, Any]]
) -> None:
    _, store = registered
    entry = manifest["models"]["random_forest_e04"]
    path = store / entry["file"]
    path.write_bytes(path.read_bytes() + b"\0")
    reg = registry(registered)
    with pytest.raises(ArtifactRejected) as caught:
        reg.get("random_forest_e04")
    message = str(caught.value)
    assert str(path) in message and entry["sha256"] in message and sha256_hex(path.read_bytes()) in message
    with pytest.raises(ArtifactRejected):
        reg.get(None)
    assert len(reg.get("logistic").predict(test_rows[:3])[1]) == 3


def test_missing_artifact_is_refused_naming_the_file(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    _, store = registered
    path = store / manifest["models"]["logistic"]["file"]
    path.unlink()
    with pytest.raises(ArtifactRejected, match=str(path)):
        registry(registered).get("logistic")


def test_unknown_model_lists_the_known_ones(registered: tuple[str, Path]) -> None:
    with pytest.raises(UnknownModel) as caught:
        registry(registered).get("xgboost")
    assert "xgboost" in str(caught.value)
    for name in ("dummy", "logistic", "random_forest", "random_forest_e04"):
        assert name in str(caught.value)


def test_promote_then_refresh_switches_version_and_default_without_restart(
    registered: tuple[str, Path], attrition: TrainingData, manifest: dict[str, Any]
) -> None:
    conninfo, store = registered
    reg = registry(registered)
    old = reg.get("logistic")
    new = add_logistic_version(conninfo, store, attrition, C=0.05)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute("LISTEN model_promoted")
        assert promote(conninfo, "logistic", new["version"]) == new["version"]
        notices = list(listener.notifies(timeout=30, stop_after=1))
    assert [n.channel for n in notices] == ["model_promoted"]
    assert reg.get("logistic") is old and reg.default_name() == "random_forest_e04"
    reg.refresh()
    assert reg.get("logistic").version == new["version"] != old.version
    assert reg.default_name() == "logistic" and reg.get(None).name == "logistic"
    assert reg.refresh_errors == {}


def test_promote_without_version_keeps_the_deployed_one(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    conninfo, _ = registered
    assert promote(conninfo, "random_forest") == manifest["models"]["random_forest"]["version"]
    reg = registry(registered)
    assert reg.default_name() == "random_forest"
    with pytest.raises(UnknownModel):
        promote(conninfo, "xgboost")
    with pytest.raises(ModelError, match="no registered version"):
        promote(conninfo, "logistic", "nope")


def test_a_new_version_that_fails_its_check_keeps_the_old_one_serving(
    registered: tuple[str, Path], manifest: dict[str, Any], test_rows: list[dict[str, Any]]
) -> None:
    conninfo, _ = registered
    reg = registry(registered)
    old = reg.get("random_forest_e04")
    # A row whose registered hash does not match the bytes on disk (a swapped or corrupted file).
    bad = entry_for("random_forest_e04", "bad-1", "0" * 64, threshold=0.5, file=old_file(manifest))
    register(conninfo, bad)
    promote(conninfo, "random_forest_e04", "bad-1")
    reg.refresh()
    assert reg.get("random_forest_e04") is old
    assert reg.get(None) is old
    assert "0" * 64 in reg.refresh_errors["random_forest_e04"]
    assert len(reg.get(None).predict(test_rows[:2])[1]) == 2


def test_a_new_default_that_fails_its_check_keeps_the_old_default(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    conninfo, store = registered
    reg = registry(registered)
    reg.get(None)
    (store / manifest["models"]["logistic"]["file"]).write_bytes(b"not a model")
    promote(conninfo, "logistic")
    reg.refresh()
    assert reg.default_name() == "random_forest_e04"
    assert "logistic" in reg.refresh_errors


def test_a_different_scikit_learn_version_warns(registered: tuple[str, Path]) -> None:
    conninfo, _ = registered
    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE model_versions SET sklearn_version = '0.0' WHERE model_name = 'dummy'")
    with pytest.warns(SklearnVersionMismatch, match="0.0"):
        registry(registered).get("dummy")


def test_a_registry_without_database_is_an_error() -> None:
    with pytest.raises(ModelError, match="DATABASE_URL"):
        ModelRegistry(None)


def old_file(manifest: dict[str, Any]) -> str:
    return manifest["models"]["random_forest_e04"]["file"]


def test_a_refused_artifact_is_retried_after_a_backoff_and_serves_once_restored(
    registered: tuple[str, Path], manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("model_store.registry.RETRY_FIRST_SECONDS", 0.2)
    clock = Clock(monkeypatch)
    _, store = registered
    entry = manifest["models"]["logistic"]
    path = store / entry["file"]
    good = path.read_bytes()
    path.write_bytes(good + b"\0")
    reg = registry(registered)
    with pytest.raises(ArtifactRejected) as caught:
        reg.get("logistic")
    [state] = [s for s in reg.availability() if s.name == "logistic"]
    assert state.available is False and state.retry_in is not None and 0 < state.retry_in <= 0.2
    # What a client may read names the model and why, never a file of the server.
    assert state.error == caught.value.public
    assert "logistic" in state.error and "sha256" in state.error
    assert str(store) not in state.error and entry["file"] not in state.error

    path.write_bytes(good)
    with pytest.raises(ArtifactRejected):  # within the backoff: not read again
        reg.get("logistic")
    assert reg.retry_due() == []
    clock.advance(0.25)
    assert reg.retry_due() == ["logistic"]
    assert reg.get("logistic").version == entry["version"]
    assert [s.available for s in reg.availability() if s.name == "logistic"] == [True]


def test_the_retry_backoff_doubles_while_the_artifact_stays_refused(
    registered: tuple[str, Path], manifest: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("model_store.registry.RETRY_FIRST_SECONDS", 0.1)
    clock = Clock(monkeypatch)
    _, store = registered
    (store / manifest["models"]["dummy"]["file"]).unlink()
    reg = registry(registered)
    waits = []
    for _ in range(3):
        with pytest.raises(ArtifactRejected, match="unreadable"):
            reg.get("dummy")
        [state] = [s for s in reg.availability() if s.name == "dummy"]
        assert "missing or unreadable" in state.error
        waits.append(state.retry_in)
        clock.advance(state.retry_in + 0.02)
    assert waits[0] < 0.11 < waits[1] < 0.21 < waits[2] < 0.41
