"""One plan, two shells: a read written once gives the same answer on a sync and on an async connection,
and its error reaches the caller of either."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row

from model_store.deployments import default_name, fetch_deployed, fetch_deployed_async
from model_store.registration import register_version
from sql.migrate import SchemaDrift, pending_files
from sql.named_queries import QUERIES
from sql.plans import Fetch, Plan, run, run_async
from tests.pg import Databases, database_url

pytestmark = pytest.mark.anyio


@pytest.fixture
def empty_db(databases: Databases) -> Iterator[str]:
    name = databases.create()
    yield database_url(databases.server_url, name)
    databases.drop(name)


def two_reads(n: int) -> Plan[tuple[int, str]]:
    """A plan whose second statement depends on the first's rows, as pending_files' does."""
    ((number,),) = yield Fetch("SELECT %(n)s::int + 1", {"n": n}, row_factory=tuple_row)
    (row,) = yield Fetch("SELECT repeat('x', %(k)s) AS text", {"k": number})
    return number, row["text"]


async def both(url: str, plan: Callable[..., Plan[Any]], *args: object) -> tuple[Any, Any]:
    """The answers of `plan(*args)` run by the sync shell and by the async one."""
    with psycopg.connect(url) as conn:
        sync = run(conn, plan(*args))
    async with await psycopg.AsyncConnection.connect(url) as aconn:
        asynchronous = await run_async(aconn, plan(*args))
    return sync, asynchronous


async def test_a_plan_answers_the_same_on_either_connection(db_url: str) -> None:
    assert await both(db_url, two_reads, 2) == ((3, "xxx"), (3, "xxx"))


async def test_the_schema_check_is_one_read_for_both_shells(db_url: str, empty_db: str) -> None:
    assert await both(db_url, pending_files) == ([], [])
    everything, everything_async = await both(empty_db, pending_files)
    assert everything == everything_async and "001_prediction_requests.sql" in everything


def deploy(conn: psycopg.Connection, name: str) -> None:
    """A registered, deployed version of `name` (rows only: no artifact is read here)."""
    entry = {
        "name": name,
        "version": "v1",
        "file": f"{name}-v1.joblib",
        "sha256": "0" * 64,
        "sklearn_version": "1.0",
        "threshold": 0.5,
        "metrics": {"roc_auc": 0.8},
        "feature_schema": [{"name": "age", "kind": "int"}],
    }
    register_version(conn, entry)
    conn.execute(QUERIES["deploy_version"], {"model_name": name, "version": "v1"})
    conn.execute(QUERIES["set_default_if_none"], {"model_name": name})


async def test_the_deployed_models_are_one_read_for_both_shells(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        deploy(conn, "logistic")
        deploy(conn, "dummy")
        conn.commit()
        deployed = fetch_deployed(conn)
    async with await psycopg.AsyncConnection.connect(db_url) as aconn:
        deployed_async = await fetch_deployed_async(aconn)
    assert [m.as_dict() for m in deployed_async] == [m.as_dict() for m in deployed]
    assert [m.name for m in deployed] == ["dummy", "logistic"] and default_name(deployed) == "logistic"
    assert deployed[1].metrics == {"roc_auc": 0.8}


async def test_an_error_of_the_plan_reaches_the_caller_of_either_shell(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE filename LIKE '001%'")
    with psycopg.connect(db_url) as conn, pytest.raises(SchemaDrift, match="001_"):
        run(conn, pending_files())
    async with await psycopg.AsyncConnection.connect(db_url) as aconn:
        with pytest.raises(SchemaDrift, match="001_"):
            await run_async(aconn, pending_files())
