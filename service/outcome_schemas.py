"""Bodies of POST /outcomes (the observed truth) and GET /monitoring/performance (measured against it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.schemas import MAX_BATCH_ITEMS, SubjectRef

# Clocks of the poster and the server may differ a little; an outcome further in the future is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: UUID | None = Field(default=None, description="The prediction this outcome is the truth for.")
    subject_ref: SubjectRef | None = Field(
        default=None,
        description="Or: the employee it is the truth for, applied to that subject's predictions made "
        "before observed_at, within the horizon.",
    )
    label: Literal[0, 1] = Field(description="What really happened: 1 = the employee left, 0 = stayed.")
    observed_at: datetime | None = Field(
        default=None, description="When it was observed (no time zone means UTC; omitted: now)."
    )

    @field_validator("observed_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("observed_at is in the future")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> OutcomeIn:
        if (self.request_id is None) == (self.subject_ref is None):
            raise ValueError("give exactly one of request_id or subject_ref")
        return self


class OutcomesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[OutcomeIn] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS, description="1 to 10,000 outcomes."
    )
    horizon_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="An outcome by subject_ref applies to that subject's predictions made in the N days "
        "before observed_at (default: the server's OUTCOME_HORIZON_DAYS).",
    )
    source: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Where the outcomes come from (e.g. 'HRIS export 2026-01'), kept with each one.",
    )


class OutcomesRecorded(BaseModel):
    items: int = Field(description="Outcomes posted.")
    matched: int = Field(description="Predictions the outcomes matched (recorded + unchanged).")
    recorded: int = Field(description="Outcomes written: new ones and corrections.")
    corrected: int = Field(
        description="Of those recorded, how many replaced a different outcome (kept as history)."
    )
    unchanged: int = Field(description="Matched predictions that already had this outcome: nothing changed.")
    unknown: int = Field(description="Posted outcomes that matched no prediction.")
    unknown_request_ids: list[UUID] = Field(description="The request_ids no prediction has.")
    unknown_subject_refs: list[str] = Field(
        description="The subject_refs with no prediction within the horizon before observed_at."
    )
    horizon_days: int = Field(description="The horizon applied to outcomes by subject_ref.")


# -- GET /monitoring/performance --------------------------------------------------------------------


class CalibrationBin(BaseModel):
    bin_start: float
    bin_end: float
    count: int = Field(description="Labelled predictions whose probability falls in the bin.")
    mean_predicted: float | None = Field(description="Mean predicted probability (null when empty).")
    observed_rate: float | None = Field(description="Share that really left (null when empty).")


class PerformancePoint(BaseModel):
    bucket: datetime = Field(description="Start of the time bucket (by prediction submission time).")
    labelled: int
    positive_rate: float | None
    roc_auc: float | None
    pr_auc: float | None
    brier: float | None


class Figures(BaseModel):
    predictions: int = Field(description="Answered predictions in the window.")
    labelled: int = Field(description="Of those, how many have an observed outcome.")
    positives: int = Field(description="Labelled predictions whose employee left.")
    positive_rate: float | None = Field(description="positives / labelled.")
    roc_auc: float | None = Field(description="ROC-AUC (ties counted half); null unless both classes occur.")
    pr_auc: float | None = Field(description="Average precision; null unless both classes occur.")
    brier: float | None = Field(description="Mean squared difference of probability and label.")
    precision: float | None = Field(description="At the version's threshold; null with no predicted leaver.")
    recall: float | None = Field(description="At the version's threshold; null with no observed leaver.")
    f1: float | None


class VersionPerformance(Figures):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    version: str
    threshold: float | None = Field(
        description="The version's decision threshold (null when not registered)."
    )
    enough_labels: bool = Field(description="Whether the figures are worth judging the version by.")
    note: str | None = Field(
        description="Why the figures cannot be trusted yet, in plain words; null when they can."
    )
    calibration: list[CalibrationBin] = Field(
        description="Predicted against observed, in equal probability bins."
    )
    over_time: list[PerformancePoint] = Field(description="The figures per time bucket, oldest first.")
    offline_metrics: dict[str, Any] = Field(description="The version's registered held-out and CV metrics.")


class PerformanceWindow(BaseModel):
    since: datetime = Field(description="Predictions submitted at or after.")
    until: datetime = Field(description="Predictions submitted before.")
    bucket_seconds: int = Field(description="Width of each over_time bucket.")


class Performance(BaseModel):
    window: PerformanceWindow
    min_labels: int = Field(description="Fewer labelled predictions than this are too few to judge.")
    models: list[VersionPerformance] = Field(description="Per model name and version, by name then version.")
