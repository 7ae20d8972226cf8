"""The single-request answers are written without building the pydantic models, yet byte for byte as the
models write them: whatever the features hold, whatever the time zone, with or without result and outcome."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from service.schemas import Submitted, prediction_json, prediction_of, submitted_json

ZONES = st.sampled_from(
    [
        dt.UTC,
        ZoneInfo("UTC"),
        ZoneInfo("Europe/Paris"),
        ZoneInfo("America/St_Johns"),
        dt.timezone(-dt.timedelta(hours=3)),
    ]
)
TIMES = st.builds(
    lambda t, zone: t.replace(tzinfo=zone),
    st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2999, 12, 31)),
    ZONES,
)
# What a jsonb column can give back: any JSON value (integers beyond 64 bits, floats of every size).
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    """A get_prediction row: pending, answered, failed, with or without an outcome."""
    answered = draw(st.booleans())
    labelled = draw(st.booleans())
    return {
        "request_id": draw(st.uuids()),
        "model_name": draw(TEXT),
        "status": draw(st.sampled_from(["pending", "running", "completed", "failed"])),
        "created_at": draw(TIMES),
        "features": draw(st.dictionaries(TEXT, JSON_VALUES, max_size=6)),
        "error": draw(st.none() | TEXT),
        "prediction": draw(st.sampled_from([0, 1])) if answered else None,
        "probability": draw(st.floats(0, 1)) if answered else None,
        "model_version": draw(TEXT) if answered else None,
        "result_created_at": draw(TIMES) if answered else None,
        "subject_ref": draw(st.none() | TEXT),
        "outcome_label": draw(st.sampled_from([0, 1])) if labelled else None,
        "outcome_observed_at": draw(TIMES) if labelled else None,
        "outcome_recorded_at": draw(TIMES) if labelled else None,
        "outcome_source": draw(TEXT) if labelled else None,
        "api_key_id": draw(st.none() | st.integers(1, 10)),
    }


@settings(max_examples=300, deadline=None)
@given(rows())
def test_a_prediction_is_written_as_its_model_writes_it(row: dict[str, Any]) -> None:
    assert prediction_json(row) == prediction_of(row).model_dump_json().encode()


@settings(max_examples=100, deadline=None)
@given(st.uuids(), TEXT, st.sampled_from(["pending", "completed"]), TIMES)
def test_a_submission_is_written_as_its_model_writes_it(
    request_id: uuid.UUID, model_name: str, status: str, created_at: dt.datetime
) -> None:
    expected = Submitted(request_id=request_id, model_name=model_name, status=status, created_at=created_at)  # type: ignore[arg-type]
    assert submitted_json(request_id, model_name, status, created_at) == expected.model_dump_json().encode()
