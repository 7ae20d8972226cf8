"""How much the held-out metrics depend on the split: retrain for several split seeds (≈ 20 s each).

`python -m model_store.split_study` writes split_study.json into the store; `python -m model_store card`
adds it to the model card.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from model_store.data import load_attrition
from model_store.pipelines import DEFAULT_MODEL, MODEL_NAMES
from model_store.training import SPLIT_SEED, train_models
from sql.settings import get_settings

STUDY_FILE = "split_study.json"
# Seeds 0-9, plus the seed an earlier version of the training split with: the study shows it too.
EARLIER_SPLIT_SEEDS = (20240611,)
SEEDS = (*range(10), *EARLIER_SPLIT_SEEDS)


def run_study(seeds: tuple[int, ...] = SEEDS) -> dict[str, Any]:
    """Held-out ROC-AUC and PR-AUC of every model for each split seed."""
    data = load_attrition()
    results: dict[str, Any] = {}
    for seed in seeds:
        _, models, _ = train_models(data, progress=False, split_seed=seed)
        results[str(seed)] = {
            n: {"roc_auc": m.test["roc_auc"], "pr_auc": m.test["pr_auc"]} for n, m in models.items() if m.test
        }
        print(seed, {n: round(v["roc_auc"], 3) for n, v in results[str(seed)].items()}, flush=True)
    default = [r[DEFAULT_MODEL] for r in results.values()]
    return {
        "split_seed": SPLIT_SEED,
        "earlier_split_seeds": [s for s in EARLIER_SPLIT_SEEDS if s in seeds],
        "models": [n for n in MODEL_NAMES if n != "dummy"],
        "seeds": results,
        "passes": sum(s["roc_auc"] >= 0.80 and s["pr_auc"] >= 0.50 for s in default),
        "median_roc_auc": statistics.median(s["roc_auc"] for s in default),
    }


def main(store_dir: Path | None = None) -> int:
    store_dir = store_dir or get_settings().model_store_dir
    study = run_study()
    store_dir.mkdir(parents=True, exist_ok=True)
    (store_dir / STUDY_FILE).write_text(json.dumps(study, indent=2) + "\n")
    print(f"wrote {store_dir / STUDY_FILE}: {study['passes']} of {len(study['seeds'])} splits pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
