"""A waiter's answer from the completion notification (schema 022), instead of re-reading the request.

The notification carries what changed when the request finished (its result, or its error), and says
so only when that is the whole of the answer (no outcome recorded, within NOTIFY's 8000 bytes); the
waiter already knows the rest: the request's columns from its first read, or, for a submission it just
inserted, what it inserted. `answered` returns the row `requests.get_prediction` would have returned,
so `prediction_json` gives the same bytes either way (tests/api/test_completion_payload.py compares);
None whenever it cannot be sure, and the waiter re-reads.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# orjson writes floats from 1e16 up with an exponent, which jsonb keeps as an integer ("1e+16" reads
# back as 10000000000000000): such features are answered by the re-read.
_EXACT_FLOAT_BELOW = 1e16
# orjson reads an integer beyond 64 bits back as a float.
_EXACT_INT_BELOW = 2**63
_NO_RESULT = {"prediction": None, "probability": None, "model_version": None, "result_created_at": None}
_NO_OUTCOME = {
    "outcome_label": None,
    "outcome_observed_at": None,
    "outcome_recorded_at": None,
    "outcome_source": None,
}


def _jsonb_key_order(key: str) -> tuple[int, bytes]:
    # jsonb stores an object's keys shorter first, then by their bytes; it reads them back in that order.
    raw = key.encode()
    return len(raw), raw


def stored_features(features: dict[str, Any]) -> dict[str, Any] | None:
    """`features` as a read of the jsonb column stored from them loads them back (same keys, values
    and order); None when that is not certain (a value jsonb would change: a nested value, -0.0, a float
    from 1e16 up, a non-finite float, an integer beyond 64 bits, a key that is not a string)."""
    stored: dict[str, Any] = {}
    for key in sorted(features, key=_jsonb_key_order) if all(type(k) is str for k in features) else ():
        value = features[key]
        kind = type(value)
        if kind is float:
            if not (math.isfinite(value) and abs(value) < _EXACT_FLOAT_BELOW) or (
                value == 0.0 and math.copysign(1.0, value) < 0
            ):
                return None
        elif kind is int:
            if not -_EXACT_INT_BELOW <= value < _EXACT_INT_BELOW:
                return None
        elif value is not None and kind not in (str, bool):
            return None
        stored[key] = value
    if len(stored) != len(features):
        return None
    return stored


def submitted_row(
    request_id: UUID,
    model_name: str,
    created_at: datetime,
    features: dict[str, Any],
    subject_ref: str | None,
    api_key_id: int | None,
) -> dict[str, Any] | None:
    """What a waiter knows of the request it just inserted, as `get_prediction`'s columns (the ones a
    finished request's answer does not change); None when its features would not read back the same."""
    stored = stored_features(features)
    if stored is None:
        return None
    return {
        "request_id": request_id,
        "model_name": model_name,
        "created_at": created_at,
        "features": stored,
        "subject_ref": subject_ref,
        "api_key_id": api_key_id,
    }


def _timestamp(micros: int, zone: tzinfo | None) -> datetime:
    # psycopg gives timestamptz in the session's time zone: the request's created_at has it.
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone)


def answered(known: dict[str, Any], answer: str) -> dict[str, Any] | None:
    """The finished request's row from `known` (its columns) and `answer` (the notification after the
    uuid: "c|prediction|probability|created_at µs|model_version" or "f|error"); None for anything else."""
    kind, _, rest = answer.partition("|")
    try:
        if kind == "c":
            prediction, probability, micros, model_version = rest.split("|", 3)
            return {
                **known,
                **_NO_OUTCOME,
                "status": "completed",
                "error": None,
                "prediction": int(prediction),
                "probability": float(probability),
                "model_version": model_version,
                "result_created_at": _timestamp(int(micros), known["created_at"].tzinfo),
            }
    except ValueError:  # not this format: re-read
        return None
    if kind == "f":
        return {**known, **_NO_OUTCOME, **_NO_RESULT, "status": "failed", "error": rest}
    return None
