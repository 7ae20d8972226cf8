"""The Models page's notice when a deployed candidate beats the default under the promotion gate.
Reads what each registered version's metrics say of the gate (model_store writes it at training)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def gate_notice(models: Sequence[Mapping[str, Any]]) -> str | None:
    """One sentence with the command, naming the best deployed model the gate prefers to the default."""
    default = next((m.get("name") for m in models if m.get("default")), None)
    winners = []
    for m in models:
        g = (m.get("metrics") or {}).get("gate") or {}
        if m.get("name") != default and g.get("better") is True and g.get("incumbent") == default:
            winners.append((float(g.get("roc_auc_difference", 0.0)), float(g.get("p", 1.0)), str(m["name"])))
    if not winners:
        return None
    gain, p, name = max(winners)
    return (
        f"**{name}** beats the default **{default}** under the promotion gate (cross-validated ROC-AUC "
        f"{gain:+.3f}, corrected p = {p:.3f}). Promote it with `python -m model_store promote {name}`."
    )
