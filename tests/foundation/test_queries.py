"""The named queries say what they return, and PostgreSQL agrees.

Every query's header declares its shape (`:many (id, model_name, features)`, `:one (total)`, `:none`),
and the declared columns are checked against the ones PostgreSQL describes for the query, prepared
(never run) on the migrated database: a column added to a query, renamed or reordered without its
header fails here, and a row class that does not match its header fails at import (class_rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg import pq

from sql.named_queries import QUERIES, SHAPES, Shape, class_rows, parse_queries
from tests.pg import Databases, database_url

TEXT_OID, VOID_OID = 25, 2278
_PARAM = re.compile(r"%\((\w+)\)[sbt]|%%")
_UNTYPED = re.compile(r"could not determine data type of parameter \$(\d+)")
_TEMPLATE = re.compile(r"\{(parent|partition)\}")


def positional(query: str) -> tuple[str, list[str]]:
    """`%(name)s` placeholders as PostgreSQL's `$n` (one number per name), as psycopg sends them."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _PARAM.sub(number, query), names


def described(conn: psycopg.Connection, query: str, partition: str) -> list[tuple[str, int]]:
    """(name, type oid) of each result column PostgreSQL describes for `query`, parsed and never run.
    A parameter whose type PostgreSQL cannot infer from the query alone is declared text (psycopg
    sends such values typed, e.g. a datetime); the DDL templates' {partition} names a real one."""
    names = {"parent": "prediction_requests", "partition": partition}
    command, params = positional(_TEMPLATE.sub(lambda m: f'"{names[m.group(1)]}"', query))
    try:
        return _described(conn, command, params)
    except MultipleCommands:  # LISTEN a; LISTEN b (no parameters): one statement at a time
        return [column for statement in command.split(";") for column in _described(conn, statement, [])]


class MultipleCommands(AssertionError):
    pass


def _described(conn: psycopg.Connection, command: str, params: list[str]) -> list[tuple[str, int]]:
    types = [0] * len(params)
    for _ in range(len(params) + 1):
        parsed = conn.pgconn.prepare(b"", command.encode(), types)
        if parsed.status == pq.ExecStatus.COMMAND_OK:
            result = conn.pgconn.describe_prepared(b"")
            assert result.status == pq.ExecStatus.COMMAND_OK, result.get_error_message()
            return [((result.fname(i) or b"").decode(), result.ftype(i)) for i in range(result.nfields)]
        error = parsed.get_error_message()
        if "cannot insert multiple commands" in error:
            raise MultipleCommands(error)
        untyped = _UNTYPED.search(error)
        if untyped is None:
            raise AssertionError(f"PostgreSQL refuses the query: {error}")
        types[int(untyped.group(1)) - 1] = TEXT_OID
    raise AssertionError("every parameter was typed and one is still untyped")


@pytest.fixture(scope="module")
def described_db(databases: Databases, template_db: str) -> Iterator[psycopg.Connection]:
    """One migrated database for the module: queries are only prepared there, never run."""
    name = databases.create(template=template_db)
    try:
        with psycopg.connect(database_url(databases.server_url, name), autocommit=True) as conn:
            yield conn
    finally:
        databases.drop(name)


@pytest.fixture(scope="module")
def partition(described_db: psycopg.Connection) -> str:
    """A partition of prediction_requests, for the retention queries that name one."""
    row = described_db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'prediction_requests'::regclass ORDER BY 1 LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_every_query_declares_its_shape() -> None:
    assert sorted(name for name, shape in SHAPES.items() if shape.returns is None) == []
    assert sorted(n for n, s in SHAPES.items() if s.returns in ("one", "many") and s.columns is None) == []


@pytest.mark.parametrize("name", sorted(n for n, s in SHAPES.items() if s.columns is not None))
def test_declared_columns_are_what_postgresql_returns(
    described_db: psycopg.Connection, partition: str, name: str
) -> None:
    columns = tuple(column for column, _ in described(described_db, QUERIES[name], partition))
    assert columns == SHAPES[name].columns


@pytest.mark.parametrize("name", sorted(n for n, s in SHAPES.items() if s.returns == "none"))
def test_queries_declared_none_return_nothing_to_read(
    described_db: psycopg.Connection, partition: str, name: str
) -> None:
    """No columns, or only the void of a function called for its effect (set_audit_context())."""
    columns = described(described_db, QUERIES[name], partition)
    assert [column for column, oid in columns if oid != VOID_OID] == []


def test_the_check_sees_a_column_the_header_does_not_declare(
    described_db: psycopg.Connection, partition: str
) -> None:
    ((sql, shape),) = parse_queries(
        "-- name: q\n-- :one (id, model_name).\nSELECT id, model_name, status FROM prediction_requests"
    ).values()
    assert shape == Shape("one", ("id", "model_name"))
    assert [column for column, _ in described(described_db, sql, partition)] == ["id", "model_name", "status"]


def test_a_parameter_postgresql_cannot_type_alone_is_described_as_text(
    described_db: psycopg.Connection, partition: str
) -> None:
    query = "SELECT %(note)s AS note, id FROM prediction_requests WHERE id = %(id)s OR %(id)s IS NULL"
    assert described(described_db, query, partition) == [("note", TEXT_OID), ("id", 20)]


def test_rows_come_back_as_the_row_class(described_db: psycopg.Connection) -> None:
    @dataclass(frozen=True)
    class Member:
        table_name: str
        partition_column: str

    with described_db.cursor(row_factory=class_rows("partition_family", Member)) as cur:
        family = cur.execute(QUERIES["partition_family"]).fetchall()
    assert family[0] == Member("prediction_requests", "id")


def test_header_shapes_parse() -> None:
    parsed = parse_queries(
        "-- name: a\n-- :many (id, model_name, features). Claim rows.\n-- More words.\nSELECT 1\n"
        "-- name: b\n-- :one (status) or none. Words.\nSELECT 2\n"
        "-- name: c\n-- :none. Words.\nSELECT 3\n"
        "-- name: d\n-- :many, one row per id.\nSELECT 4\n"
        "-- name: e\n-- No shape declared (whatever follows).\nSELECT 5\n"
        "-- name: f\n-- :one (request_id, model_name,\n--   status). Words.\nSELECT 6\n"
    )
    assert {name: shape for name, (_, shape) in parsed.items()} == {
        "a": Shape("many", ("id", "model_name", "features")),
        "b": Shape("one", ("status",)),
        "c": Shape("none", None),
        "d": Shape("many", None),
        "e": Shape(None, None),
        "f": Shape("one", ("request_id", "model_name", "status")),
    }
    assert parsed["a"][0] == "SELECT 1"
    assert parsed["f"][0] == "SELECT 6"


@pytest.mark.parametrize("header", [":many (id, id)", ":one (id, 2x)", ":none (id)", ":one ()"])
def test_a_malformed_column_list_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="declares bad columns"):
        parse_queries(f"-- name: q\n-- {header}.\nSELECT 1")


def test_class_rows_refuses_a_row_class_that_does_not_match_its_header() -> None:
    @dataclass(frozen=True)
    class Claimed:
        id: int
        model_name: str

    with pytest.raises(TypeError, match=r"no field for \['features'\]"):
        class_rows("claim_pending", Claimed)

    @dataclass(frozen=True)
    class Overfull:
        id: int
        model_name: str
        features: dict[str, object]
        status: str

    with pytest.raises(TypeError, match=r"no column for \['status'\]"):
        class_rows("claim_pending", Overfull)

    @dataclass(frozen=True)
    class Claim:
        features: dict[str, object]
        id: int
        model_name: str

    assert class_rows("claim_pending", Claim) is not None

    @dataclass(frozen=True)
    class Annotated:  # fields the query does not return are fine when they have a default
        id: int
        model_name: str
        features: dict[str, object]
        note: str = ""
        tags: list[str] = field(default_factory=list)

    assert class_rows("claim_pending", Annotated) is not None


def test_class_rows_refuses_a_query_without_declared_columns() -> None:
    @dataclass(frozen=True)
    class Anything:
        x: int

    with pytest.raises(TypeError, match="declares no columns"):
        class_rows("record_migration", Anything)
    with pytest.raises(TypeError, match="not a dataclass"):
        class_rows("claim_pending", dict)
