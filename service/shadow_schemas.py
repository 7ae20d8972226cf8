"""Bodies of GET /models/compare (a shadow challenger against the default) and GET /models/events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class PrimaryVersion(BaseModel):
    model_name: str = Field(description="Model that answered the clients on these pairs.")
    version: str
    paired: int = Field(description="Pairs it answered.")


class Comparison(BaseModel):
    challenger: str = Field(description="The shadow challenger's model name.")
    challenger_versions: list[str] = Field(description="Its versions that scored requests in the window.")
    shadowing: bool = Field(description="Whether it runs in the shadow now.")
    since: datetime
    until: datetime
    primary_versions: list[PrimaryVersion] = Field(
        description="What answered the clients on the same requests (the default model at the time)."
    )
    paired: int = Field(description="Requests answered by both the default and the challenger.")
    shadow_errors: int = Field(description="Requests the challenger failed to score (no pair).")
    agreement: float | None = Field(description="Share of pairs where both made the same decision.")
    mean_abs_difference: float | None = Field(description="Mean |P(default) - P(challenger)| over the pairs.")
    labelled: int = Field(description="Pairs with a posted outcome (POST /outcomes).")
    positives: int = Field(description="Labelled pairs whose employee left.")
    primary_roc_auc: float | None = Field(
        description="ROC-AUC of the clients' answers on the labelled pairs."
    )
    challenger_roc_auc: float | None = Field(description="ROC-AUC of the challenger on the same pairs.")
    roc_auc_difference: float | None = Field(description="challenger_roc_auc - primary_roc_auc.")
    roc_auc_difference_se: float | None = Field(description="DeLong standard error of the difference.")
    z: float | None = Field(description="The difference over its standard error.")
    p_value: float | None = Field(
        description="Two-sided p-value of DeLong's paired test (null when a class is missing or too rare)."
    )
    test: str
    enough_labels: bool = Field(description="Labelled pairs of both outcomes reach PERFORMANCE_MIN_LABELS.")
    note: str | None = Field(description="Why the figures cannot be judged yet, in plain words.")


class ModelEvent(BaseModel):
    id: int = Field(description="Order of the events (audit_events.id).")
    at: datetime
    actor: str = Field(description="Who acted (API key name, CLI user or database role).")
    action: str = Field(
        description="model.deployed, model.promoted, model.rolled_back, model.shadow_started, "
        "model.shadow_stopped"
    )
    subject: str | None = Field(description="The model name.")
    details: dict[str, Any] = Field(
        description="from_version, to_version, from_default, reason, evidence and the gates' verdicts."
    )


class ShadowInfo(BaseModel):
    model_name: str = Field(description="The challenger scored in the shadow of the default.")
    version: str
    threshold: float = Field(description="Its decision threshold.")
    started_at: datetime = Field(description="When this version started to run in the shadow.")
    metrics: dict[str, Any] = Field(description="Its offline metrics, as registered.")
