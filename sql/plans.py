"""A read written once, run on a sync or an async connection.

A plan is a generator: it yields each `Fetch` it needs, receives that statement's rows, and returns its
answer. `run` and `run_async` are the two thin shells that execute one, so the queries, their order and
what their rows mean live in one function whichever connection the caller holds (the CLI's psycopg
connection or the API's pool).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg.rows import RowFactory, dict_row

T = TypeVar("T")


@dataclass(frozen=True)
class Fetch:
    """One statement of a plan, and how its rows come back (by default as dicts: read by column name,
    never by position, as sql/named_queries.py says)."""

    query: LiteralString
    params: Mapping[str, Any] | None = None
    row_factory: RowFactory[Any] = dict_row


#: What a plan yields (a Fetch), is sent back (that Fetch's rows) and returns (its answer).
Plan = Generator[Fetch, list[Any], T]


def run(conn: psycopg.Connection[Any], plan: Plan[T]) -> T:
    """Execute `plan` on a psycopg connection; its answer."""
    try:
        step = next(plan)
        while True:
            with conn.cursor(row_factory=step.row_factory) as cur:
                rows = cur.execute(step.query, step.params).fetchall()
            step = plan.send(rows)
    except StopIteration as done:
        return done.value


async def run_async(aconn: psycopg.AsyncConnection[Any], plan: Plan[T]) -> T:
    """Execute `plan` on a psycopg async connection; its answer."""
    try:
        step = next(plan)
        while True:
            async with aconn.cursor(row_factory=step.row_factory) as cur:
                await cur.execute(step.query, step.params)
                rows = await cur.fetchall()
            step = plan.send(rows)
    except StopIteration as done:
        return done.value
