"""`python -m model_store`: skips training when artifacts exist, registers, promotes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sql.settings import PROJECT_ROOT


def run(args: list[str], store: Path, db_url: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MODEL_STORE_DIR": str(store), "DATABASE_URL": db_url, "ENV": "dev"}
    command = [sys.executable, "-m", "model_store", *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)


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
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDDED_PG_DIR", str(tmp_path / "pgdata"))
    out = run(["promote", "logistic"], store, "")
    assert out.returncode == 1
    assert "run `python -m sql` first" in out.stderr
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists(), "it left the cluster it started running"
