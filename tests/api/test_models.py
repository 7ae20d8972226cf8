"""The API's model catalog comes from model_deployments rows and follows promotions without restart."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from model_store.features import schema_as_json
from service.app import create_app
from service.settings import ApiSettings
from tests.api.conftest import employee, eventually, in_process

pytestmark = pytest.mark.anyio

REGISTER = """
INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, threshold,
                            metrics, feature_schema)
VALUES (%(name)s, %(version)s, %(name)s || '.joblib', repeat(%(digit)s, 64), '1.5', %(threshold)s,
        %(metrics)s, %(schema)s)
"""
DEPLOY = "INSERT INTO model_deployments (model_name, version, is_default) VALUES (%s, %s, %s)"


def register(
    conn: psycopg.Connection,
    name: str,
    version: str,
    digit: str,
    threshold: float,
    metrics: dict | None = None,
) -> None:
    conn.execute(REGISTER, {
        "name": name, "version": version, "digit": digit, "threshold": threshold,
        "metrics": Jsonb(metrics or {"test": {"roc_auc": 0.8}}), "schema": Jsonb(schema_as_json()),
    })  # fmt: skip


async def models(client: httpx.AsyncClient) -> dict[str, dict]:
    return {m["name"]: m for m in (await client.get("/models/")).json()}


async def test_models_come_from_the_deployment_rows_and_follow_a_promotion(
    db_url: str, conn: psycopg.Connection
) -> None:
    register(conn, "logistic", "aaa", "a", 0.3)
    register(conn, "random_forest_e04", "bbb", "b", 0.4)
    register(conn, "random_forest_e04", "ccc", "c", 0.45)
    conn.execute(DEPLOY, ["logistic", "aaa", True])
    conn.execute(DEPLOY, ["random_forest_e04", "bbb", False])
    app = create_app(ApiSettings(database_url=db_url, env="dev"))
    async with in_process(app) as client:
        listed = await models(client)
        assert listed["logistic"] == {
            "name": "logistic", "version": "aaa", "default": True,
            "metrics": {"test": {"roc_auc": 0.8}}, "threshold": 0.3, "sha256": "a" * 64,
            "available": True, "unavailable_reason": None,
        }  # fmt: skip
        submitted = await client.post("/predictions/request", json={"features": employee()})
        assert submitted.json()["model_name"] == "logistic"
        assert (await client.get("/metadata/")).json()["threshold"] == 0.3

        with conn.transaction():
            conn.execute("UPDATE model_deployments SET is_default = false")
            conn.execute(
                "UPDATE model_deployments SET version = 'ccc', is_default = true"
                " WHERE model_name = 'random_forest_e04'"
            )

        async def switched() -> dict[str, dict] | None:  # once NOTIFY model_promoted reaches the app
            listed = await models(client)
            return listed if listed["random_forest_e04"]["default"] else None

        listed = await eventually(switched, "the app hears the promotion")
        assert listed["random_forest_e04"]["default"] and listed["random_forest_e04"]["version"] == "ccc"
        submitted = await client.post("/predictions/request", json={"features": employee()})
        assert submitted.json()["model_name"] == "random_forest_e04"
        meta = (await client.get("/metadata/")).json()
        assert meta["default_model"] == "random_forest_e04" and meta["threshold"] == 0.45


async def test_a_version_retrained_from_outcomes_lists_its_cv_figures_like_a_trained_one(
    db_url: str, conn: psycopg.Connection
) -> None:
    # What `train --from-outcomes` registers (model_store/retrain.py): one out-of-fold score per metric.
    oof = {"roc_auc": 0.81, "pr_auc": 0.52, "brier": 0.11, "f1": 0.47, "precision": 0.5, "recall": 0.44}
    register(conn, "logistic", "retrained", "a", 0.5, {"cv_oof": oof, "trained_on": {"rows": 60}})
    trained_cv = {"roc_auc": {"mean": 0.8, "std": 0.03, "low": 0.75, "high": 0.85}}
    register(conn, "random_forest_e04", "trained", "b", 0.4, {"cv": trained_cv})
    conn.execute(DEPLOY, ["logistic", "retrained", True])
    conn.execute(DEPLOY, ["random_forest_e04", "trained", False])
    async with in_process(create_app(ApiSettings(database_url=db_url, env="dev"))) as client:
        listed = await models(client)
    retrained = listed["logistic"]["metrics"]
    assert {k: s["mean"] for k, s in retrained["cv"].items()} == oof, "read as the dashboard reads CV means"
    assert retrained["cv_oof"] == oof and retrained["trained_on"] == {"rows": 60}, "as registered besides"
    assert listed["random_forest_e04"]["metrics"] == {"cv": trained_cv}, "a trained version's cv untouched"


async def test_without_any_deployed_model_submissions_get_a_clear_answer(db_url: str) -> None:
    async with in_process(create_app(ApiSettings(database_url=db_url, env="dev"))) as client:
        assert (await client.get("/models/")).json() == []
        response = await client.post("/predictions/request", json={"features": employee()})
        assert response.status_code == 503 and "no default model" in response.json()["detail"]
        named = await client.post(
            "/predictions/request", json={"model_name": "logistic", "features": employee()}
        )
        assert named.status_code == 404 and "python -m model_store" in named.json()["detail"]


async def test_metadata_serves_a_default_per_feature_even_for_artifacts_registered_without_any(
    db_url: str, conn: psycopg.Connection
) -> None:
    old_schema = [{k: v for k, v in f.items() if k != "default"} for f in schema_as_json()]
    conn.execute(REGISTER, {
        "name": "logistic", "version": "old", "digit": "d", "threshold": 0.5,
        "metrics": Jsonb({}), "schema": Jsonb(old_schema),
    })  # fmt: skip
    conn.execute(DEPLOY, ["logistic", "old", True])
    async with in_process(create_app(ApiSettings(database_url=db_url, env="dev"))) as client:
        features = {f["name"]: f for f in (await client.get("/metadata/")).json()["feature_schema"]}
    assert features["age"]["default"] == 36 and features["monthly_income"]["default"] == 4919
    assert features["over_time"]["default"] == "No"
    assert all("default" in f for f in features.values())


async def test_metadata_of_the_stand_ins_carries_the_defaults(client: httpx.AsyncClient) -> None:
    features = (await client.get("/metadata/")).json()["feature_schema"]
    assert [f["default"] for f in features] == [f["default"] for f in schema_as_json()]
