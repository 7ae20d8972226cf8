"""The named queries say what they return: every header's declared shape (`:many (id, model_name,
features)`, `:one (total)`, `:none`) is kept, and a row class that does not match its header is refused
(sql.queries.class_rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sql.queries import SHAPES, Shape, class_rows, parse_queries


def test_header_shapes_parse() -> None:
    parsed = parse_queries(
        "-- name: a\n-- :many (id, model_name, features). Claim rows.\n-- More words.\nSELECT 1\n"
        "-- name: b\n-- :one (status) or none. Words.\nSELECT 2\n"
        "-- name: c\n-- :none. Words.\nSELECT 3\n"
        "-- name: d\n-- :many, one row per id.\nSELECT 4\n"
        "-- name: e\n-- No shape declared.\nSELECT 5\n"
    )
    assert {name: shape for name, (_, shape) in parsed.items()} == {
        "a": Shape("many", ("id", "model_name", "features")),
        "b": Shape("one", ("status",)),
        "c": Shape("none", None),
        "d": Shape("many", None),
        "e": Shape(None, None),
    }
    assert parsed["a"][0] == "SELECT 1"


@pytest.mark.parametrize("header", [":many (id, id)", ":one (id, 2x)", ":none (id)", ":one ()"])
def test_a_malformed_column_list_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="declares bad columns"):
        parse_queries(f"-- name: q\n-- {header}.\nSELECT 1")


def test_class_rows_refuses_a_row_class_that_does_not_match_its_header() -> None:
    @dataclass(frozen=True)
    class Claimed:
        id: int
        model_name: str

    with pytest.raises(TypeError, match=r"missing \['features'\]"):
        class_rows("claim_pending", Claimed)

    @dataclass(frozen=True)
    class Claim:
        features: dict[str, object]
        id: int
        model_name: str

    assert class_rows("claim_pending", Claim) is not None


def test_class_rows_refuses_a_query_without_declared_columns() -> None:
    @dataclass(frozen=True)
    class Anything:
        x: int

    undeclared = next(n for n, s in SHAPES.items() if s.columns is None)
    with pytest.raises(TypeError, match="declares no columns"):
        class_rows(undeclared, Anything)
