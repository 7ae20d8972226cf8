"""Feature validation for the API: model_store's one schema, with errors located in the request body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError

from model_store.features import Feature, FeatureError, validate_features
from service.errors import field_error

# A batch with many bad rows reports this many, not ten thousand.
MAX_REPORTED_ERRORS = 20


def _location(prefix: tuple[str | int, ...], error: FeatureError) -> list[str | int]:
    # A non-object input is named "features" by the validator: the location is the prefix itself.
    return list(prefix) if error.field == "features" else [*prefix, error.field]


def checked(features: dict[str, Any], schema: Sequence[Feature], at: tuple[str | int, ...]) -> dict[str, Any]:
    """`features` validated against `schema`; 422 naming `at` + the field otherwise."""
    try:
        return validate_features(features, schema)
    except FeatureError as error:
        raise RequestValidationError([field_error(_location(at, error), error.message)]) from None


def checked_items(items: list[dict[str, Any]], schema: Sequence[Feature]) -> list[dict[str, Any]]:
    """Every batch item validated before anything is written; 422 naming each bad item's index and field."""
    valid, errors = [], []
    for index, features in enumerate(items):
        try:
            valid.append(validate_features(features, schema))
        except FeatureError as error:
            errors.append(field_error(_location(("body", "items", index), error), error.message))
            if len(errors) == MAX_REPORTED_ERRORS:
                break
    if errors:
        raise RequestValidationError(errors)
    return valid
