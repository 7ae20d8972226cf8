"""`python -m model_store evaluate`: the leaderboard and each candidate's verdict against the default,
from the figures a manifest holds (every candidate scored on the same outer folds). Pure functions."""

from __future__ import annotations

from typing import Any

from model_store import gate
from model_store.errors import ModelError

SHOWN = (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier"), ("f1", "F1"))


def report(manifest: dict[str, Any], incumbent: str) -> dict[str, Any]:
    """Every candidate (best mean ROC-AUC first) with its interval, and its verdict against `incumbent`."""
    if "candidates" not in manifest:
        raise ModelError(
            "this store was trained before repeated cross-validation existed: retrain it with "
            "`python -m model_store --force`"
        )
    candidates = manifest["candidates"]
    if incumbent not in candidates:
        raise ModelError(
            f"the default model {incumbent!r} was not evaluated in this manifest; evaluated: "
            + ", ".join(candidates)
        )
    fraction = manifest["protocol"]["test_fraction"]
    rows = []
    for name, c in sorted(candidates.items(), key=lambda kv: -kv[1]["cv"]["roc_auc"]["mean"]):
        v = (
            None
            if name == incumbent
            else gate.verdict(c["per_fold"], candidates[incumbent]["per_fold"], fraction)
        )
        rows.append({"name": name, "served": c["served"], "cv": c["cv"], "verdict": v})
    better = [r["name"] for r in rows if r["verdict"] and r["verdict"]["better"] and r["served"]]
    return {
        "protocol": manifest["protocol"],
        "data": manifest["data"],
        "incumbent": incumbent,
        "rule": gate.RULE,
        "candidates": rows,
        "better_than_incumbent": better,
    }


def _cell(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} [{s['low']:.{digits}f}, {s['high']:.{digits}f}]"


def render(r: dict[str, Any]) -> str:
    """The report as text: protocol, leaderboard, verdicts, and the command that promotes a winner."""
    p, d = r["protocol"], r["data"]
    lines = [
        f"{p['outer_folds']}-fold stratified CV x {p['repeats']} repeats on all {d['rows']} rows "
        f"({d['positives']} positives); mean [95% interval, Nadeau–Bengio corrected]",
        "",
        f"{'model':30}{'served':8}" + "".join(f"{label:24}" for _, label in SHOWN),
    ]
    for row in r["candidates"]:
        mark = " (default)" if row["name"] == r["incumbent"] else ""
        lines.append(
            f"{row['name'] + mark:30}{'yes' if row['served'] else 'no':8}"
            + "".join(f"{_cell(row['cv'][k], 4 if k == 'brier' else 3):24}" for k, _ in SHOWN)
        )
    lines += ["", f"Gate against the default {r['incumbent']}: {r['rule']}."]
    for row in r["candidates"]:
        if row["verdict"] is not None:
            note = "" if row["served"] else " (evaluated only, not served)"
            lines.append("- " + gate.describe(row["name"], r["incumbent"], row["verdict"]) + note)
    lines.append("")
    lines.append(advice(r) or f"No served candidate beats {r['incumbent']}: keep it.")
    return "\n".join(lines) + "\n"


def advice(r: dict[str, Any]) -> str | None:
    """The sentence that names a served candidate beating the default, with the command; else None."""
    if not r["better_than_incumbent"]:
        return None
    best = r["better_than_incumbent"][0]
    return (
        f"{best} beats the default {r['incumbent']} under the gate. "
        f"Promote it with: python -m model_store promote {best}"
    )
