"""The listener's settings (LISTENER_* in the environment, each default declared once, here) and what one
worker needs to know: those settings, its database URL and the command line's flags."""

from __future__ import annotations

import os
import socket
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict


class ListenerSettings(BaseSettings):
    """LISTENER_* read from the environment; flags of `python -m listener` override some of them."""

    # A field's alias is its variable (batch_size: LISTENER_BATCH_SIZE), so an error names what the user
    # set; the code and the tests use the short names.
    model_config = SettingsConfigDict(
        alias_generator=lambda name: f"listener_{name}", populate_by_name=True, extra="forbid", frozen=True
    )

    batch_size: int = Field(default=512, ge=1, le=10_000, description="rows claimed per round")
    lease_seconds: float = Field(
        default=30.0, gt=0, description="a claimed row whose listener died is claimable again after this"
    )
    max_attempts: int = Field(default=3, ge=1, description="claims before a request is failed")
    backlog_claim: Literal["lease", "transaction"] = Field(
        default="lease",
        description="how a backlog (a claim that filled its batch) is worked: lease = each batch claimed and "
        "committed under a lease before its inference (a killed listener's rows show running and count an "
        "attempt); transaction = claimed, inferred and recorded in one short transaction, one write per row "
        "(less PostgreSQL work per request; a killed listener's rows are pending again at once, the attempt "
        "not counted)",
    )
    record_in_background: bool = Field(
        default=True,
        description="backlog_claim = lease: write a full batch's outcome on a connection of its own while "
        "the next batch is claimed and inferred (PostgreSQL's work and the model's overlap; one more "
        "connection per writer, record_writers, while a backlog is worked)",
    )
    record_writers: int = Field(
        default=1,
        ge=1,
        le=8,
        description="with record_in_background: how many full batches' outcomes are written at once, each on "
        "its own connection (one more connection per worker for each while a backlog is worked)",
    )
    sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        description="longest wait without a notification; each wake-up sweeps expired leases",
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, description="--poll-only: how often to look for pending rows"
    )
    concurrency: int = Field(default=1, ge=1, le=64, description="worker processes")
    heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="how often each worker updates its listener_heartbeats row"
    )
    ping_seconds: float = Field(
        default=5.0, gt=0, description="how often the LISTEN connection is checked with a NOTIFY to itself"
    )
    reconnect_max_seconds: float = Field(
        default=5.0, gt=0, description="cap of the reconnect backoff after the database went away"
    )
    explain_at_answer: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="comma-separated models (e.g. logistic,dummy) whose every answer the listener explains "
        "as it writes it; others are explained when asked (POST /predictions/{id}/explanation)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="log level of the listener processes (events, never per request)"
    )

    @field_validator("explain_at_answer", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return frozenset(n.strip() for n in value.split(",") if n.strip())
        return value


class ListenerConfig(ListenerSettings):
    """What one listener worker needs to know. Built from its arguments only (ListenerSettings is what
    reads LISTENER_*), so a test's or a worker's config never picks up a stray variable."""

    database_url: str
    poll_only: bool = False
    worker_index: int = 0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        **_environment_sources: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def from_settings(cls, settings: ListenerSettings, database_url: str, **flags: object) -> ListenerConfig:
        """The settings, then the flags given (None means "not given"; argparse has checked them, and
        they are not held to the variables' upper bounds)."""
        config = cls(**settings.model_dump(), database_url=database_url)
        return config.model_copy(update={name: value for name, value in flags.items() if value is not None})

    @property
    def mode(self) -> str:
        """As listener_heartbeats.mode spells it."""
        return "poll" if self.poll_only else "notify"

    def for_worker(self, index: int) -> ListenerConfig:
        return self.model_copy(update={"worker_index": index})


def listener_id(worker_index: int) -> str:
    """host:pid:n — unique per process while it lives; written to claimed_by and listener_heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}:{worker_index}"
