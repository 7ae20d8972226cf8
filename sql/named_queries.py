"""Named queries: every statement the code runs lives in `sql/queries/*.sql`.

Each query starts with a header line `-- name: some_query`, then `-- ` description lines and the SQL
itself, with named parameters (`%(model_name)s`). The first description line starts with the query's
shape: `:many (id, model_name, features)` or `:one (total)` (at most one row; the columns it returns,
in order, a long list going on over the next lines), or `:none` (nothing the caller reads). Code looks
queries up by name, and reads rows by column name, never by position:

    claims = class_rows("claim_pending", Claim)  # checked: Claim has a field for each declared column
    with conn.cursor(row_factory=claims) as cur:
        rows = cur.execute(QUERIES["claim_pending"], {"listener_id": ..., "batch_size": 64}).fetchall()

tests/foundation/test_queries.py checks every declared shape against what PostgreSQL says the query
returns, so a column added to a query without its header (or its row class) fails a test.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, LiteralString, TypeVar, cast

from psycopg.rows import BaseRowFactory, class_row

QUERY_DIR = Path(__file__).parent / "queries"
_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_SHAPE = re.compile(r":(many|one|none)\b(?:\s*\(([^)]*)\))?")

Returns = Literal["many", "one", "none"]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Shape:
    """What a query's header says it returns: how many rows, and their columns (None: not declared)."""

    returns: Returns | None
    columns: tuple[str, ...] | None


def _shape(description: list[str], name: str, source: str) -> Shape:
    """The shape the description's first line declares; a column list may go on over the next lines."""
    text = " ".join(line.lstrip("-").strip() for line in description)
    match = _SHAPE.match(text)
    if match is None:
        return Shape(None, None)
    returns = cast(Returns, match.group(1))
    if match.group(2) is None:
        return Shape(returns, None)
    columns = tuple(c.strip() for c in match.group(2).split(","))
    if returns == "none" or not all(c.isidentifier() for c in columns) or len(set(columns)) < len(columns):
        raise ValueError(f"query {name!r} in {source} declares bad columns: {match.group(0)!r}")
    return Shape(returns, columns)


def parse_queries(text: str, source: str = "<string>") -> dict[str, tuple[LiteralString, Shape]]:
    """Split one .sql file into {name: (sql, shape)}; the descriptions (leading `--` lines) are dropped."""
    parts = _HEADER.split(text)
    queries: dict[str, tuple[LiteralString, Shape]] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        description = []
        while lines and lines[0].lstrip().startswith("--"):
            description.append(lines.pop(0))
        shape = _shape(description, name, source)
        sql = "\n".join(lines).strip().rstrip(";").strip()
        if not sql:
            raise ValueError(f"query {name!r} in {source} has no SQL")
        if name in queries:
            raise ValueError(f"query {name!r} defined twice in {source}")
        queries[name] = (cast(LiteralString, sql), shape)
    return queries


def load_queries(directory: Path = QUERY_DIR) -> dict[str, tuple[LiteralString, Shape]]:
    """Read every `*.sql` file in `directory`; a name used in two files is an error."""
    queries: dict[str, tuple[LiteralString, Shape]] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, query in parse_queries(path.read_text(), path.name).items():
            if name in queries:
                raise ValueError(f"query {name!r} defined in two files (second: {path.name})")
            queries[name] = query
    return queries


class _ByName(dict[str, Any]):
    def __missing__(self, name: str) -> Any:
        known = ", ".join(sorted(self))
        raise KeyError(f"no query named {name!r} in sql/queries/; known: {known}")


_ALL = load_queries()
QUERIES: Mapping[str, LiteralString] = _ByName({name: sql for name, (sql, _) in _ALL.items()})
SHAPES: Mapping[str, Shape] = _ByName({name: shape for name, (_, shape) in _ALL.items()})


def class_rows(query: str, cls: type[T]) -> BaseRowFactory[T]:
    """psycopg's `class_row(cls)` for the rows of `query`, once the dataclass `cls` is checked against the
    columns the query's header declares: a field for each, and a default for any other field (call it
    at import, so that a mismatch fails at once)."""
    declared = SHAPES[query].columns
    if declared is None:
        raise TypeError(f"query {query!r} declares no columns in its header, to read it as {cls.__name__}")
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    missing = sorted(set(declared) - {f.name for f in fields})
    required = {f.name for f in fields if f.default is f.default_factory is dataclasses.MISSING}
    extra = sorted(required - set(declared))
    if missing or extra:
        raise TypeError(
            f"{cls.__name__} does not match query {query!r} (columns {', '.join(declared)}): "
            f"no field for {missing}, no column for {extra}"
        )
    return class_row(cls)
