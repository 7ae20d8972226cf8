"""Request and response bodies of the API (the OpenAPI schema at /docs is built from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema
from pydantic_core import to_json

from model_store.features import FEATURES, Feature

Status = Literal["pending", "running", "completed", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "running", "completed", "failed")
MAX_BATCH_ITEMS = 10_000

FEATURES_DESCRIPTION = "Feature values keyed by snake_case feature name; see GET /metadata/ for the schema."
MODEL_NAME_DESCRIPTION = "Model to ask (see GET /models/); omitted or null means the default model."
SUBJECT_REF_DESCRIPTION = (
    "Optional pseudonymous reference of the employee the prediction is about (1 to 200 characters, "
    "e.g. an HR system id; never a name or an email): outcomes can then be posted by subject."
)
SubjectRef = Annotated[
    str, StringConstraints(min_length=1, max_length=200), Field(description=SUBJECT_REF_DESCRIPTION)
]


def _feature_json_schema(feature: Feature) -> dict[str, Any]:
    if feature.type == "category":
        out = {"type": "string", "enum": list(feature.categories), "description": feature.description}
    else:
        out = {
            "type": feature.type,
            "minimum": feature.minimum,
            "maximum": feature.maximum,
            "description": feature.description,
        }
    if feature.default is not None:
        out["default"] = feature.default
    return out


# The OpenAPI view of the one feature schema; the check itself is model_store's validate_features.
FEATURES_JSON_SCHEMA: dict[str, Any] = {
    "title": "Features",
    "type": "object",
    "description": FEATURES_DESCRIPTION,
    "properties": {f.name: _feature_json_schema(f) for f in FEATURES},
    "required": [f.name for f in FEATURES],
    "additionalProperties": False,
}
Features = Annotated[dict[str, Any], WithJsonSchema(FEATURES_JSON_SCHEMA)]


def encodable(text: str) -> str:
    """`text`, if UTF-8 (and so PostgreSQL) can hold it: JSON text may carry a lone UTF-16 surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"a lone UTF-16 surrogate at position {exc.start} is not text") from None
    return text


Text = Annotated[str, AfterValidator(encodable)]


class PredictionRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: Text | None = Field(default=None, description=MODEL_NAME_DESCRIPTION, examples=["logistic"])
    features: Features
    subject_ref: SubjectRef | None = None


class BatchRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_name: Text | None = Field(default=None, description=MODEL_NAME_DESCRIPTION, examples=["logistic"])
    items: list[Features] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description=(
            'One feature object per prediction, optionally with "subject_ref" beside the features '
            '(or, like a single request, {"features": {...}, "subject_ref": "..."}).'
        ),
    )


class Submitted(BaseModel):
    """202: the request is stored and queued; GET its Location for the result."""

    request_id: UUID
    model_name: str
    status: Status
    created_at: datetime


class BatchSubmitted(BaseModel):
    model_name: str
    request_ids: list[UUID] = Field(description="One id per item, in the items' order.")


class PredictionResult(BaseModel):
    prediction: int = Field(description="1: predicted to leave (attrition); 0: to stay.")
    probability: float = Field(description="Probability of attrition.")
    model_version: str
    created_at: datetime


class PredictionOutcome(BaseModel):
    label: int = Field(description="What really happened: 1 = the employee left, 0 = stayed.")
    observed_at: datetime
    recorded_at: datetime
    source: str = Field(description="How the outcome was matched and who posted it.")


class Prediction(BaseModel):
    request_id: UUID
    model_name: str
    status: Status
    created_at: datetime
    features: dict[str, Any]
    result: PredictionResult | None
    error: str | None
    subject_ref: str | None = None
    outcome: PredictionOutcome | None = Field(
        default=None, description="The current observed outcome (POST /outcomes); null until one is posted."
    )


class HistoryPage(BaseModel):
    items: list[Prediction]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next (older) page; null at the end."
    )
    total: int = Field(description="Requests matching the filters over all pages (counted up to 10,000).")
    total_capped: bool = Field(description="True when there are more than `total`: counting stopped there.")


class LookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_ids: list[UUID] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS, description="Public request ids (1 to 10,000)."
    )


class LookupOut(BaseModel):
    items: list[Prediction | None] = Field(
        description="One entry per id asked, in the order asked; null where no request has that id."
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    default: bool
    metrics: dict[str, Any]
    threshold: float
    sha256: str | None
    available: bool = Field(
        default=True,
        description="False while a running listener reports it cannot load this model (see "
        "unavailable_reason); it retries by itself, so the model comes back once its artifact is fixed.",
    )
    unavailable_reason: str | None = Field(default=None, description="Why the model cannot answer now.")


class Metadata(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    feature_schema: list[dict[str, Any]] = Field(
        description=(
            "Every feature: name, type, range (numbers) or categories, description, and `default`: "
            "a typical value (the training data's median, or its most common category)."
        )
    )
    target: dict[str, Any]
    threshold: float = Field(description="Decision threshold of the default model.")
    default_model: str
    version: str = Field(description="Version of the default model that answers.")
    dataset: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok", "degraded", "busy", "unavailable"] = Field(
        description=(
            "degraded: serving, but the LISTEN connection is down (?wait answers at its deadline) or a "
            "model cannot be loaded (unavailable_models); "
            "busy: every pooled database connection is in use (503, retry shortly)."
        )
    )
    database: Literal["reachable", "busy", "unreachable"]
    migrations: Literal["current", "pending", "drift", "unknown"]
    pending_migrations: list[str]
    listening: bool = Field(description="Whether the LISTEN connection that wakes waiting callers is up.")
    listening_down_seconds: float | None = Field(
        default=None,
        description="How long the LISTEN connection has been down (reconnecting); null while up.",
    )
    unavailable_models: dict[str, str] = Field(
        default_factory=dict,
        description="Deployed models a running listener cannot load, with why (degraded while any).",
    )
    detail: str | None = None


class ErrorOut(BaseModel):
    detail: str


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error codes answered with {"detail": "..."}."""
    described = {
        400: "Body is not valid JSON text.",
        401: "Missing or invalid X-API-Key (API keys are in use).",
        403: "The key's scopes do not include what this endpoint needs; the detail names the scope.",
        404: "Unknown request id or model.",
        409: "Idempotency-Key already used for a different request.",
        413: "Request body too large.",
        503: "Database unreachable or busy; the detail says whether anything was stored.",
    }
    return {code: {"model": ErrorOut, "description": described[code]} for code in codes}


def prediction_of(row: dict[str, Any]) -> Prediction:
    """A `get_prediction` / `prediction_history` row as the API's Prediction."""
    result = None
    if row["prediction"] is not None:
        result = PredictionResult(
            prediction=row["prediction"],
            probability=row["probability"],
            model_version=row["model_version"],
            created_at=row["result_created_at"],
        )
    outcome = None
    if row.get("outcome_label") is not None:
        outcome = PredictionOutcome(
            label=row["outcome_label"],
            observed_at=row["outcome_observed_at"],
            recorded_at=row["outcome_recorded_at"],
            source=row["outcome_source"],
        )
    return Prediction(
        request_id=row["request_id"],
        model_name=row["model_name"],
        status=row["status"],
        created_at=row["created_at"],
        features=row["features"],
        result=result,
        error=row["error"],
        subject_ref=row.get("subject_ref"),
        outcome=outcome,
    )


def prediction_json(row: dict[str, Any]) -> bytes:
    """`prediction_of(row).model_dump_json()`, byte for byte, without building the models: pydantic's
    serializer on the same fields in the same order (the hot single-request answers; a test compares)."""
    result = None
    if row["prediction"] is not None:
        result = {
            "prediction": row["prediction"],
            "probability": row["probability"],
            "model_version": row["model_version"],
            "created_at": row["result_created_at"],
        }
    outcome = None
    if row.get("outcome_label") is not None:
        outcome = {
            "label": row["outcome_label"],
            "observed_at": row["outcome_observed_at"],
            "recorded_at": row["outcome_recorded_at"],
            "source": row["outcome_source"],
        }
    return to_json(
        {
            "request_id": row["request_id"],
            "model_name": row["model_name"],
            "status": row["status"],
            "created_at": row["created_at"],
            "features": row["features"],
            "result": result,
            "error": row["error"],
            "subject_ref": row.get("subject_ref"),
            "outcome": outcome,
        }
    )


def submitted_json(request_id: UUID, model_name: str, status: str, created_at: datetime) -> bytes:
    """`Submitted(...).model_dump_json()`, byte for byte, without building the model."""
    return to_json(
        {"request_id": request_id, "model_name": model_name, "status": status, "created_at": created_at}
    )


# -- GET /monitoring/summary ------------------------------------------------------------------------


class MonitoringWindow(BaseModel):
    since: datetime = Field(description="Start of the window (requests submitted at or after).")
    until: datetime = Field(description="End of the window (requests submitted before): now.")
    bucket_seconds: int = Field(description="Width of each throughput bucket.")


class ThroughputBucket(BaseModel):
    bucket: datetime = Field(description="Start of the bucket (aligned on multiples of bucket_seconds).")
    pending: int
    running: int
    completed: int
    failed: int


class LatencySummary(BaseModel):
    count: int = Field(description="Answered requests of the window.")
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


class ProbabilityBin(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    bin_start: float
    bin_end: float
    count: int


class ListenerStatus(BaseModel):
    listener_id: str
    hostname: str
    pid: int
    mode: str
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    processed: int
    failed: int
    alive: bool = Field(description="Not stopped, and a heartbeat within API_LISTENER_ALIVE_SECONDS.")


class FeatureDriftOut(BaseModel):
    name: str
    psi: float | None = Field(description="Population stability index; null when the sample is too small.")


class DriftSummary(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    reference: str = Field(
        description=(
            "What recent requests are compared with: `training data` (the rows the default model's "
            "version was fitted on, as registered with it), or `none` (see `missing`)."
        )
    )
    model_name: str | None = Field(default=None, description="The default model, whose reference it is.")
    version: str | None = Field(default=None, description="Its version that answers.")
    training_rows: int | None = Field(default=None, description="How many rows that version was fitted on.")
    training_data_sha256: str | None = Field(
        default=None, description="Fingerprint of those rows (the version's training_data_sha256)."
    )
    missing: str | None = Field(
        default=None, description="Why there is no reference (every PSI is then null); null when there is."
    )
    sample_size: int = Field(description="How many of the window's most recent requests were compared.")
    features: list[FeatureDriftOut] = Field(description="Worst drift first.")


class MonitoringSummary(BaseModel):
    window: MonitoringWindow
    requests: int = Field(description="Requests submitted in the window.")
    status_counts: dict[Status, int] = Field(description="The window's requests by their status now.")
    throughput: list[ThroughputBucket] = Field(description="Every bucket of the window, oldest first.")
    latency_ms: LatencySummary = Field(description="Submit-to-result latency, in milliseconds.")
    probability_histogram: list[ProbabilityBin] = Field(
        description="Predicted probabilities per model, in equal bins over [0, 1]."
    )
    listeners: list[ListenerStatus] = Field(description="Listeners seen in the window or alive, alive first.")
    drift: DriftSummary
