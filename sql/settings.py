"""One settings object, read from the environment, shared by the API, the listener and the model store."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", protected_namespaces=())

    database_url: str | None = Field(
        default=None, description="libpq URL; unset means the embedded PostgreSQL (make run)."
    )
    api_database_url: str | None = Field(
        default=None,
        description="libpq URL the API connects with (a login role in futurisys_api); unset: DATABASE_URL.",
    )
    listener_database_url: str | None = Field(
        default=None,
        description="libpq URL the listener connects with (a login role in futurisys_listener); "
        "unset: DATABASE_URL.",
    )
    env: Literal["dev", "prod"] = Field(
        default="dev", description="prod: the API refuses to start without an API key."
    )
    model_store_dir: Path = Field(
        default=PROJECT_ROOT / "model_store" / "artifacts",
        description="Where trained joblib artifacts and manifest.json live.",
    )
    embedded_pg_dir: Path = Field(
        default=PROJECT_ROOT / ".pgdata", description="Data directory of the embedded PostgreSQL."
    )
    # Listener
    listener_batch_size: int = Field(default=512, ge=1, le=10_000)
    listener_lease_seconds: float = Field(default=30.0, gt=0)
    listener_max_attempts: int = Field(default=3, ge=1)
    listener_sweep_seconds: float = Field(default=5.0, gt=0)
    listener_poll_seconds: float = Field(
        default=1.0, gt=0, description="--poll-only: how often to look for pending rows."
    )
    listener_concurrency: int = Field(default=1, ge=1, le=64, description="Worker processes per listener.")
    listener_heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="How often each worker updates its listener_heartbeats row."
    )
    listener_ping_seconds: float = Field(
        default=5.0, gt=0, description="How often the LISTEN connection is checked with a NOTIFY to itself."
    )
    listener_reconnect_max_seconds: float = Field(
        default=5.0, gt=0, description="Cap of the reconnect backoff after the database went away."
    )
    listener_explain_at_answer: str = Field(
        default="",
        description="Comma-separated models (e.g. logistic,dummy) whose every answer the listener explains "
        "as it writes it; others are explained when asked (POST /predictions/{id}/explanation).",
    )
    listener_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the listener processes (events, never per request)."
    )
    # API
    api_pool_min: int = Field(default=2, ge=1)
    api_pool_max: int = Field(default=10, ge=1)
    api_max_wait_seconds: float = Field(default=30.0, gt=0)
    api_pool_timeout_seconds: float = Field(
        default=2.0, gt=0, description="How long a request waits for a pooled connection before a 503."
    )
    api_keys_required: bool = Field(
        default=False, description="Require X-API-Key even before any key exists (prod: always)."
    )
    api_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="Larger bodies get 413.")
    api_history_max_page: int = Field(default=500, ge=1, description="Page size cap of /predictions/history.")
    api_listener_alive_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A listener with an older last heartbeat counts as gone (/metrics, /monitoring/summary).",
    )
    api_access_log: bool = Field(default=False, description="uvicorn access log (costs throughput).")
    # Outcomes and live performance
    outcome_horizon_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="An outcome posted by subject_ref is the truth for that subject's predictions made "
        "in the N days before it was observed (POST /outcomes may state its own horizon_days).",
    )
    performance_min_labels: int = Field(
        default=50,
        ge=1,
        description="Fewer labelled predictions than this are too few to judge a model version.",
    )
    performance_window_days: int = Field(
        default=30,
        ge=1,
        description="Window of the live performance gauges in /metrics, and the default window of "
        "GET /monitoring/performance.",
    )
    # Retention (python -m sql retention)
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Requests (with their results, outcomes, explanations) older than this many days leave "
        "the database by whole partitions; unset keeps everything.",
    )
    partition_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long one partition epoch of prediction_requests collects requests before "
        "python -m sql retention opens the next.",
    )

    def url_for(self, process: Literal["api", "listener"]) -> str | None:
        """The URL `process` connects with: its own (API_DATABASE_URL, ...) else DATABASE_URL."""
        own = self.api_database_url if process == "api" else self.listener_database_url
        return own or self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
