"""The optional `subject_ref` of batch items: beside the features, or wrapped like a single request."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from service.errors import field_error
from service.validation import MAX_REPORTED_ERRORS

SUBJECT_REF = "subject_ref"
MAX_SUBJECT_REF = 200
WRAPPED = {"features", SUBJECT_REF}


def _split(item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    # No feature is called "features" or "subject_ref", so neither shape can be mistaken for features.
    if isinstance(item.get("features"), dict) and set(item) <= WRAPPED:
        return item["features"], item.get(SUBJECT_REF)
    if SUBJECT_REF in item:
        features = dict(item)
        return features, features.pop(SUBJECT_REF)
    return item, None


def _problem(ref: Any) -> str | None:
    if ref is None:
        return None
    if not isinstance(ref, str):
        return "subject_ref must be a string"
    if not 1 <= len(ref) <= MAX_SUBJECT_REF:
        return f"subject_ref must be 1 to {MAX_SUBJECT_REF} characters"
    return None


def split_subject_refs(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str | None] | None]:
    """The items' feature objects, and their subject_refs (None when no item carries one); 422 naming
    each bad subject_ref."""
    split = [_split(item) for item in items]
    errors = []
    for index, (_, ref) in enumerate(split):
        problem = _problem(ref)
        if problem:
            errors.append(field_error(("body", "items", index, SUBJECT_REF), problem))
            if len(errors) == MAX_REPORTED_ERRORS:
                break
    if errors:
        raise RequestValidationError(errors)
    refs = [ref for _, ref in split]
    return [features for features, _ in split], refs if any(r is not None for r in refs) else None
