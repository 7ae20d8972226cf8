"""The Models page's notice when a deployed candidate beats the default under the promotion gate.
Reads what each registered version's metrics say of the gate (model_store writes it at training)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def gate_notice(models: Sequence[Mapping[str, Any]]) -> str | None:
    """One sentence with the command, naming the best deployed model the gate prefers to the default."""
    default = next((m["name"] for m in models if m["default"]), None)
    winners = []
    for m in models:
        # Only a version trained here carries a gate summary; only a challenger's has a verdict ("better").
        g = m["metrics"].get("gate", {})
        if m["name"] != default and g.get("better") is True and g["incumbent"] == default:
            winners.append((g["roc_auc_difference"], g["p"], m["name"]))
    if not winners:
        return None
    gain, p, name = max(winners)
    return (
        f"**{name}** beats the default **{default}** under the promotion gate (cross-validated ROC-AUC "
        f"{gain:+.3f}, corrected p = {p:.3f}). Promote it with `python -m model_store promote {name}`."
    )
