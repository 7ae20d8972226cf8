"""docs/model-card.md is what the manifest renders to (given the same scikit-learn)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sklearn

from model_store.model_card import CARD_PATH, render_card

CAVEAT = "## Caveat"
# A version is its artifact's hash prefix, and pickled bytes differ between numpy/joblib releases that
# score identically: the card must match in everything else.
VERSION = re.compile(r"`[0-9a-f]{12}`")


def _comparable(card: str) -> str:
    return VERSION.sub("`<version>`", card.split(CAVEAT)[0])


def test_model_card_matches_the_manifest(manifest: dict[str, Any]) -> None:
    card = CARD_PATH.read_text()
    trained_with = re.search(r"scikit-learn (\S+),", card)
    if trained_with is None or trained_with.group(1) != sklearn.__version__:
        pytest.skip("the committed model card was rendered under another scikit-learn")
    rendered = render_card(manifest)
    assert _comparable(card) == _comparable(rendered)


def test_model_card_states_metrics_threshold_rule_and_dummy(manifest: dict[str, Any]) -> None:
    card = render_card(manifest)
    e04 = manifest["models"]["random_forest_e04"]
    assert f"{e04['metrics']['test']['roc_auc']:.3f}" in card
    assert f"{e04['threshold']:.3f}" in card
    assert manifest["threshold_rule"] in card
    assert "What the dummy baseline scores" in card
    for name in manifest["models"]:
        assert f"| `{name}` | `{manifest['models'][name]['version']}`" in card
