"""An API started while its PostgreSQL is not there: it starts anyway, answers 503 (never 500) to what needs
the database, and /metrics still answers, with database_up 0, so monitoring sees the outage."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import api_settings, employee, in_process, stand_in_app

pytestmark = pytest.mark.anyio

# Nothing listens on port 1: every connection attempt is refused at once.
NOWHERE = "postgresql://futurisys@127.0.0.1:1/futurisys?connect_timeout=2"


async def test_without_a_database_the_api_answers_503_and_metrics_say_database_down() -> None:
    app = stand_in_app(api_settings(NOWHERE, api_pool_timeout_seconds=0.5))
    async with in_process(app) as client:
        submitted = await client.post("/predictions/request", json={"features": employee()})
        assert submitted.status_code == 503, submitted.text
        assert "database" in submitted.json()["detail"]
        assert submitted.headers["Retry-After"]

        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] != "ok"

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        values = {
            sample.name: sample.value
            for family in text_string_to_metric_families(metrics.text)
            for sample in family.samples
        }
        assert values["database_up"] == 0
