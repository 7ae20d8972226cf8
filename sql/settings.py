"""The settings every process shares (database, model store, environment, retention), read from the
environment in this one place. The API's own are in service/settings.py, the listener's in
listener/config.py; each setting's default is written once, where its field is declared."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    # extra="forbid": a setting passed by name that this class does not declare (an API or listener
    # setting given to the shared class) is an error, not silently dropped.
    model_config = SettingsConfigDict(env_prefix="", extra="forbid", protected_namespaces=())

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
    # Live performance: the API's gauges and python -m model_store promote --require-live-evidence
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


def variable_and_default(settings_cls: type[BaseSettings], name: str) -> str:
    """`VARIABLE, default D` of the setting `name`, for a command-line flag's help: read from the field
    itself, so the help cannot drift from the default that applies."""
    field = settings_cls.model_fields[name]
    default = field.default
    shown = "unset" if default is None else f"{default:g}" if isinstance(default, float) else str(default)
    return f"{(field.alias or name).upper()}, default {shown}"
