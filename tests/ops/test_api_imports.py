"""The API process holds no model library: built the way `python -m service` builds it, started (its
lifespan runs against a database with models deployed) and serving a few requests, it has neither
scikit-learn nor pandas in sys.modules. The import contract (tests/ops/test_import_contracts.py) checks
the code; this checks the running process, imports by the libraries themselves included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.stack import ROOT, process_env

# service/__main__.py's serve(), less uvicorn.run: the app it builds, its startup, then some traffic.
API_PROCESS = """
import asyncio, json, sys

import httpx
import uvicorn  # noqa: F401  (what serve() imports)

import service.__main__  # noqa: F401  (the entry point `python -m service` runs)
from service.app import create_app
from tests.employees import EMPLOYEE

app = create_app()  # API_DATABASE_URL, else DATABASE_URL: what serve() connects to when either is set


async def traffic() -> dict:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            models = (await client.get("/models/")).json()
            metadata = await client.get("/metadata/")
            answer = await client.post("/predictions/request", json={"features": EMPLOYEE})
            summary = await client.get("/monitoring/summary")
            return {
                "models": [m["name"] for m in models],
                "statuses": [metadata.status_code, answer.status_code, summary.status_code],
            }


print(json.dumps({**asyncio.run(traffic()), "modules": sorted(sys.modules)}))
"""


def _api_process(db_url: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", API_PROCESS],
        cwd=ROOT,
        env=process_env(db_url, env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def api_process(db_url: str, stand_in_env: dict[str, str]) -> dict:
    """What the API process reported after starting and answering (models deployed in its database)."""
    report = _api_process(db_url, stand_in_env)
    # It did start and serve: the deployed models listed, a request queued, monitoring answered.
    assert report["models"] == ["dummy", "logistic", "random_forest", "random_forest_e04"]
    assert report["statuses"] == [200, 202, 200], report["statuses"]
    assert {"service.app", "model_store.catalog", "fastapi"} <= set(report["modules"])
    return report


@pytest.mark.parametrize("library", ["sklearn", "pandas", "onnxruntime"])
def test_the_started_api_process_has_no_model_library(api_process: dict, library: str) -> None:
    loaded = [m for m in api_process["modules"] if m == library or m.startswith(f"{library}.")]
    assert loaded == [], f"the API process imported {library}: {loaded[:5]}"
