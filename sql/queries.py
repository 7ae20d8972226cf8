"""Named queries: every statement the code runs lives in `sql/queries/*.sql`.

Each query starts with a header line `-- name: some_query` followed by `-- ` description lines
and the SQL itself, with named parameters (`%(model_name)s`). Code looks queries up by name:

    conn.execute(QUERIES["claim_pending"], {"worker": ..., "batch_size": 64})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import LiteralString, cast

QUERY_DIR = Path(__file__).parent / "queries"
_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str, source: str = "<string>") -> dict[str, LiteralString]:
    """Split one .sql file into {name: sql}; descriptions (leading `--` lines) are dropped."""
    parts = _HEADER.split(text)
    queries: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        while lines and lines[0].lstrip().startswith("--"):
            lines.pop(0)
        sql = "\n".join(lines).strip().rstrip(";").strip()
        if not sql:
            raise ValueError(f"query {name!r} in {source} has no SQL")
        if name in queries:
            raise ValueError(f"query {name!r} defined twice in {source}")
        queries[name] = cast(LiteralString, sql)
    return queries


def load_queries(directory: Path = QUERY_DIR) -> Mapping[str, LiteralString]:
    """Read every `*.sql` file in `directory`; a name used in two files is an error."""
    queries: dict[str, LiteralString] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, sql in parse_queries(path.read_text(), path.name).items():
            if name in queries:
                raise ValueError(f"query {name!r} defined in two files (second: {path.name})")
            queries[name] = sql
    return queries


class _Queries(dict[str, LiteralString]):
    def __missing__(self, name: str) -> LiteralString:
        known = ", ".join(sorted(self))
        raise KeyError(f"no query named {name!r} in sql/queries/; known: {known}")


QUERIES: Mapping[str, LiteralString] = _Queries(load_queries())
