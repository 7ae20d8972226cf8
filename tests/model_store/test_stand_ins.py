"""The stand-ins: four deterministic models. Written as a model store and deployed, they load, answer and
explain through the production path (registry, artifact check, compiled predictor) exactly as
StandInPredictor computes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from model_store.explain_loading import ExplainerCache
from model_store.features import FeatureError
from model_store.registry import ModelRegistry, UnknownModel, open_registry
from model_store.stand_ins import BASE_RATE, CENTRES, NUMERIC_WEIGHTS, StandInPredictor
from sql.settings import get_settings
from tests.model_store.test_features import valid_row
from tests.stand_ins import deploy_stand_ins


@pytest.fixture
def deployed(db_url: str, stand_in_store: Path) -> str:
    """The test's database with the stand-in store deployed."""
    deploy_stand_ins(db_url, stand_in_store)
    return db_url


def test_stand_ins_answer_deterministically(deployed: str, stand_in_store: Path) -> None:
    reg = ModelRegistry(deployed, stand_in_store)
    assert reg.names() == ["dummy", "logistic", "random_forest", "random_forest_e04"]
    assert reg.default_name() == "random_forest_e04"
    handle = reg.get(None)
    assert handle.name == "random_forest_e04" and handle.version == "test-1" and len(handle.sha256) == 64
    rows = [valid_row(), valid_row() | {"over_time": "No", "age": 55}]
    classes, proba = handle.predict(rows)
    np.testing.assert_array_equal(proba, ModelRegistry(deployed, stand_in_store).get(None).predict(rows)[1])
    assert proba[0] > proba[1] and proba.min() > 0 and proba.max() < 1
    np.testing.assert_array_equal(classes, (proba >= handle.threshold).astype(int))


def test_stand_ins_differ_by_model_and_the_dummy_answers_the_base_rate(
    deployed: str, stand_in_store: Path
) -> None:
    reg = ModelRegistry(deployed, stand_in_store)
    probas = {n: reg.get(n).predict([valid_row()])[1][0] for n in reg.names()}
    assert len(set(probas.values())) == 4
    assert probas["dummy"] == pytest.approx(237 / 1470)


def test_stand_ins_reject_bad_rows_like_real_models(deployed: str, stand_in_store: Path) -> None:
    row: dict[str, Any] = valid_row()
    del row["age"]
    with pytest.raises(FeatureError) as caught:
        ModelRegistry(deployed, stand_in_store).get("logistic").predict([row])
    assert caught.value.field == "age"
    with pytest.raises(UnknownModel, match="known: dummy, logistic"):
        ModelRegistry(deployed, stand_in_store).get("nope")


def test_loaded_from_their_artifacts_they_answer_as_the_stand_in_predictor(
    deployed: str, stand_in_store: Path
) -> None:
    rows = [valid_row() | {"age": 20 + i, "over_time": "Yes" if i % 2 else "No"} for i in range(20)]
    reg = ModelRegistry(deployed, stand_in_store)
    for name in reg.names():
        np.testing.assert_allclose(
            reg.get(name).predict(rows)[1], StandInPredictor(name).proba(rows), rtol=0, atol=1e-12
        )


def test_their_explanations_are_exact_about_the_centres(deployed: str, stand_in_store: Path) -> None:
    reg = ModelRegistry(deployed, stand_in_store)
    cache = ExplainerCache(stand_in_store)
    rows = [valid_row()]
    with psycopg.connect(deployed) as conn:
        for name in ("dummy", "logistic"):
            handle = reg.get(name)
            [explanation] = cache.get(conn, name, handle.version, handle.sha256).explain(rows)
            assert explanation.probability == pytest.approx(StandInPredictor(name).proba(rows)[0], abs=1e-12)
            if name == "dummy":
                assert explanation.probability == pytest.approx(BASE_RATE)
            else:  # the log-odds of an employee at the centres, with no overtime and not single
                predictor = StandInPredictor(name)
                at_centres = sum(NUMERIC_WEIGHTS[f] * CENTRES[f] for f in CENTRES) + predictor.intercept
                assert explanation.base_value == pytest.approx(at_centres, abs=1e-12)


def test_open_registry_serves_the_settings_database_and_store(
    deployed: str, stand_in_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", deployed)
    monkeypatch.setenv("MODEL_STORE_DIR", str(stand_in_store))
    get_settings.cache_clear()
    try:
        reg = open_registry(None)
        assert reg.get(None).version == "test-1"
        reg.refresh()
    finally:
        get_settings.cache_clear()
