"""The evidence a promotion shows and records: the gate's verdict of the candidate against the current
default, from the manifest that evaluated both on the same folds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_store import gate
from model_store.manifest import MANIFEST


def manifests(store_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every manifest in the store: manifest.json first, then those of `train --data` runs."""
    paths = [store_dir / MANIFEST, *sorted(store_dir.glob("manifest-*.json"))]
    return [(p.name, json.loads(p.read_text())) for p in paths if p.is_file()]


def evidence_for(store_dir: Path, name: str, version: str, incumbent: str | None) -> dict[str, Any]:
    """Whether the gate lets `name` at `version` replace `incumbent`, why, and the figures."""
    if incumbent is None:
        return _allow("no model is the default yet", {"incumbent": None})
    if name == incumbent:
        return _allow(f"{name} is already the default: only its version changes", {"incumbent": incumbent})
    found = [
        (f, m) for f, m in manifests(store_dir) if m.get("models", {}).get(name, {}).get("version") == version
    ]
    if not found:
        return _refuse(f"no evaluation of {name} {version} in {store_dir}: the gate has nothing to judge")
    file, manifest = found[0]
    candidates = manifest.get("candidates", {})
    if name not in candidates or incumbent not in candidates:
        return _refuse(f"{file} did not evaluate both {name} and the default {incumbent} on the same folds")
    fraction = manifest["protocol"]["test_fraction"]
    v = gate.verdict(candidates[name]["per_fold"], candidates[incumbent]["per_fold"], fraction)
    evidence = {
        "manifest": file,
        "training_data_sha256": manifest["data"]["sha256"],
        "folds": manifest["protocol"]["folds"],
        "incumbent": incumbent,
        "rule": gate.RULE,
        "better": v["better"],
        "reasons": v["reasons"],
        "roc_auc": v["roc_auc"],
        "pr_auc": v["pr_auc"],
        "brier": v["brier"],
        "cv_roc_auc": {n: candidates[n]["cv"]["roc_auc"] for n in (name, incumbent)},
    }
    summary = gate.describe(name, incumbent, v) + f" ({evidence['folds']} folds, {file})"
    reason = f"the gate accepts {name} over {incumbent}" if v["better"] else summary
    return {"allowed": v["better"], "summary": summary, "reason": reason, "evidence": evidence}


def _allow(reason: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"allowed": True, "summary": reason, "reason": reason, "evidence": evidence}


def _refuse(reason: str) -> dict[str, Any]:
    return {
        "allowed": False,
        "summary": reason,
        "reason": reason,
        "evidence": {"better": None, "why": reason},
    }
