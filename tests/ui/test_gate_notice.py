"""The Models page says when a deployed model beats the default under the promotion gate."""

from __future__ import annotations

from typing import Any

from ui.gate_notice import gate_notice


def model(name: str, default: bool = False, **gate: Any) -> dict[str, Any]:
    return {"name": name, "default": default, "metrics": {"gate": {"incumbent": "random_forest_e04", **gate}}}


def test_a_model_the_gate_prefers_is_named_with_the_command() -> None:
    models = [
        model("random_forest_e04", default=True, is_incumbent=True),
        model("logistic", better=True, roc_auc_difference=0.035, p=0.0036),
        model("random_forest", better=False, roc_auc_difference=-0.006, p=0.45),
    ]
    notice = gate_notice(models)
    assert notice is not None
    assert "**logistic** beats the default **random_forest_e04**" in notice
    assert "ROC-AUC +0.035, corrected p = 0.004" in notice
    assert "`python -m model_store promote logistic`" in notice


def test_nothing_is_said_when_no_model_beats_the_default_it_was_judged_against() -> None:
    assert gate_notice([model("random_forest_e04", default=True), model("dummy", better=False)]) is None
    # Once logistic is the default, a verdict against the forest no longer applies.
    promoted = [
        model("random_forest_e04"),
        model("logistic", default=True, better=True, roc_auc_difference=0.03),
    ]
    assert gate_notice(promoted) is None
    assert gate_notice([{"name": "logistic", "default": True, "metrics": {}}]) is None
