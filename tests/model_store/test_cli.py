"""`python -m model_store`: skips training when artifacts exist, registers, promotes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sql.settings import PROJECT_ROOT


def run(args: list[str], store: Path, db_url: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MODEL_STORE_DIR": str(store), "DATABASE_URL": db_url, "ENV": "dev"}
    command = [sys.executable, "-m", "model_store", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_cli_registers_existing_artifacts_then_promotes(store: Path, db_url: str) -> None:
    first = run([], store, db_url)
    assert first.returncode == 0, first.stderr
    assert "artifacts present" in first.stdout and "registered" in first.stdout
    promoted = run(["promote", "logistic"], store, db_url)
    assert promoted.returncode == 0, promoted.stderr
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT model_name FROM model_deployments WHERE is_default").fetchone()
    assert row == ("logistic",)
    again = run(["train"], store, db_url)
    assert again.returncode == 0, again.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone() == (4,)
        row = conn.execute("SELECT model_name FROM model_deployments WHERE is_default").fetchone()
    assert row == ("logistic",)
    listed = run(["list"], store, db_url)
    assert "random_forest_e04" in listed.stdout and "default" in listed.stdout


def test_cli_promote_without_database_url_uses_the_embedded_one_and_says_what_is_missing(
    store: Path, pg_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDED_PG_DIR", str(pg_data_dir))
    out = run(["promote", "logistic"], store, "")
    assert out.returncode == 1
    assert "run `python -m sql` first" in out.stderr
    assert not (pg_data_dir / "postmaster.pid").exists(), "it left the cluster it started running"


def audit_rows(db_url: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT actor, action, subject, details FROM audit_events"
            " WHERE action = 'model.promoted' ORDER BY id"
        ).fetchall()


def test_evaluate_prints_the_leaderboard_and_each_verdict(store: Path, db_url: str) -> None:
    out = run(["evaluate"], store, db_url)
    assert out.returncode == 0, out.stderr
    assert "5-fold stratified CV x 10 repeats on all 1470 rows" in out.stdout
    assert "random_forest_e04 (default)" in out.stdout
    assert "- dummy is not better than random_forest_e04" in out.stdout
    as_json = json.loads(run(["evaluate", "--json"], store, db_url).stdout)
    verdicts = {c["name"]: c["verdict"] for c in as_json["candidates"]}
    assert as_json["incumbent"] == "random_forest_e04" and verdicts["random_forest_e04"] is None
    assert verdicts["dummy"]["better"] is False
    assert [c["cv"]["roc_auc"]["mean"] for c in as_json["candidates"]] == sorted(
        (c["cv"]["roc_auc"]["mean"] for c in as_json["candidates"]), reverse=True
    )


def test_promote_refuses_what_the_gate_rejects_and_records_a_forced_override(
    registered: tuple[str, Path],
) -> None:
    db_url, store = registered
    refused = run(["promote", "dummy"], store, db_url)
    assert refused.returncode == 2
    assert "dummy is not better than random_forest_e04: ROC-AUC -0.3" in refused.stdout
    assert "refused" in refused.stderr and "--force" in refused.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT model_name FROM model_deployments WHERE is_default").fetchone() == (
            "random_forest_e04",
        )
    assert audit_rows(db_url) == []
    forced = run(["promote", "dummy", "--force", "--reason", "fire drill"], store, db_url)
    assert forced.returncode == 0, forced.stderr
    [(actor, _, subject, details)] = audit_rows(db_url)
    assert actor.startswith("cli:") and subject == "dummy"
    assert details["forced"] is True and details["reason"] == "fire drill"
    assert details["evidence"]["better"] is False and details["evidence"]["incumbent"] == "random_forest_e04"
    assert details["from_default"]["model"] == "random_forest_e04"
    assert details["to_version"] == details["from_version"]  # only the default moved


def test_promote_accepts_what_the_gate_accepts_and_records_its_evidence(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    db_url, store = registered
    better = [n for n, v in manifest["gate"]["verdicts"].items() if v["better"] and n in manifest["models"]]
    assert better == ["logistic"]  # the improved logistic model beats the forest under the gate
    out = run(["promote", "logistic"], store, db_url)
    assert out.returncode == 0, out.stderr
    assert "logistic is BETTER than random_forest_e04" in out.stdout
    [(_, _, subject, details)] = audit_rows(db_url)
    assert subject == "logistic" and details["forced"] is False
    evidence = details["evidence"]
    assert evidence["better"] is True and evidence["folds"] == 50
    assert evidence["roc_auc"]["p"] < 0.05 and evidence["roc_auc"]["difference"] >= 0.01
    # Now the default is logistic: evaluate judges the others against it.
    assert "Gate against the default logistic" in run(["evaluate"], store, db_url).stdout


def test_train_says_when_a_candidate_beats_the_default_with_the_command(store: Path, db_url: str) -> None:
    out = run(["train"], store, db_url)
    assert out.returncode == 0, out.stderr
    assert "logistic beats the default random_forest_e04 under the gate" in out.stdout
    assert "python -m model_store promote logistic" in out.stdout


def test_evaluate_on_a_store_trained_before_evaluation_says_to_retrain(store: Path, db_url: str) -> None:
    manifest_path = store / "manifest.json"
    old = json.loads(manifest_path.read_text())
    del old["candidates"]
    manifest_path.write_text(json.dumps(old))
    out = run(["evaluate"], store, db_url)
    assert out.returncode == 1
    assert "retrain it with `python -m model_store --force`" in out.stderr
