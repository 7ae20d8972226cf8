"""ENV=test: four deterministic stand-in models, no files, no database."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from model_store.features import FeatureError
from model_store.registry import ModelRegistry, UnknownModel, open_registry
from sql.settings import get_settings
from tests.model_store.test_features import valid_row


def test_stand_ins_need_no_database_and_answer_deterministically() -> None:
    reg = ModelRegistry(None, env="test")
    assert reg.names() == ["dummy", "logistic", "random_forest", "random_forest_e04"]
    assert reg.default_name() == "random_forest_e04"
    handle = reg.get(None)
    assert handle.name == "random_forest_e04" and handle.version == "test-1" and len(handle.sha256) == 64
    rows = [valid_row(), valid_row() | {"over_time": "No", "age": 55}]
    classes, proba = handle.predict(rows)
    np.testing.assert_array_equal(proba, ModelRegistry(None, env="test").get(None).predict(rows)[1])
    assert proba[0] > proba[1] and proba.min() > 0 and proba.max() < 1
    np.testing.assert_array_equal(classes, (proba >= handle.threshold).astype(int))


def test_stand_ins_differ_by_model_and_the_dummy_answers_the_base_rate() -> None:
    reg = ModelRegistry(None, env="test")
    probas = {n: reg.get(n).predict([valid_row()])[1][0] for n in reg.names()}
    assert len(set(probas.values())) == 4
    assert probas["dummy"] == pytest.approx(237 / 1470)


def test_stand_ins_reject_bad_rows_like_real_models() -> None:
    row: dict[str, Any] = valid_row()
    del row["age"]
    with pytest.raises(FeatureError) as caught:
        ModelRegistry(None, env="test").get("logistic").predict([row])
    assert caught.value.field == "age"
    with pytest.raises(UnknownModel, match="known: dummy, logistic"):
        ModelRegistry(None, env="test").get("nope")


def test_open_registry_honours_env_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "test")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        reg = open_registry(None)
        assert reg.stand_ins and reg.get(None).version == "test-1"
        reg.refresh()
    finally:
        get_settings.cache_clear()
