"""docs/model-card.md is exactly what the manifest renders to, and it states what a reader must know."""

from __future__ import annotations

import re
from typing import Any

from model_store.model_card import CARD_PATH, render_card
from model_store.training import library_versions

# A version is its artifact's hash prefix, and a pickle's bytes can differ between processes that train
# the same model (pickle's memo follows which equal strings are one object): the card must match in
# everything else, every figure included.
VERSION = re.compile(r"`[0-9a-f]{12}`")


def _comparable(card: str) -> str:
    return VERSION.sub("`<version>`", card)


def test_model_card_matches_the_manifest(manifest: dict[str, Any]) -> None:
    # pyproject.toml pins the training libraries exactly, so a clean install gives the same figures.
    assert manifest["library_versions"] == library_versions()
    card = CARD_PATH.read_text()
    assert _comparable(card) == _comparable(render_card(manifest)), (
        "docs/model-card.md is stale: retrain (`make train FORCE=1`) and run `python -m model_store card`"
    )


def test_model_card_states_protocol_intervals_gate_and_single_split_caveat(manifest: dict[str, Any]) -> None:
    card = render_card(manifest)
    p = manifest["protocol"]
    assert f"{p['outer_folds']} folds ×\n  {p['repeats']} repeats" in card
    assert "Nadeau–Bengio" in card and "Everything inside the pipeline" in card
    assert "## What a single split cannot show" in card
    for name, c in manifest["candidates"].items():
        roc = c["cv"]["roc_auc"]
        assert f"| `{name}` | {roc['mean']:.3f} [{roc['low']:.3f}, {roc['high']:.3f}]" in card
    for name, entry in manifest["models"].items():
        assert f"`{name}` (served, version `{entry['version']}`)" in card
    assert "`hist_gradient_boosting` (evaluated, not served: the gate finds it no better than" in card
    assert manifest["threshold_rule"] in card
    for name, verdict in manifest["gate"]["verdicts"].items():
        assert f"| `{name}` | {verdict['roc_auc']['difference']:+.3f} |" in card
    assert "What the dummy baseline scores" in card
