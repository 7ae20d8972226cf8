"""A large batch full of bad items is refused whole with a short 422: the first bad items, by index, not
one error per item (a 10,000-item batch must not come back as a 10,000-entry error list)."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from service.validation import MAX_REPORTED_ERRORS
from tests.api.conftest import employee

pytestmark = pytest.mark.anyio


async def test_a_batch_of_bad_items_gets_a_bounded_422_and_stores_nothing(
    client: httpx.AsyncClient, conn: psycopg.Connection
) -> None:
    items = [employee(age=10) if i % 2 else employee() for i in range(2000)]  # every odd item too young
    response = await client.post("/predictions/batch", json={"items": items})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == MAX_REPORTED_ERRORS
    assert [error["loc"][2] for error in detail] == list(range(1, 2 * MAX_REPORTED_ERRORS, 2))
    assert all(error["loc"][-1] == "age" for error in detail)
    assert conn.execute("SELECT count(*) FROM prediction_requests").fetchone() == (0,)
