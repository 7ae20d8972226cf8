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
    env: Literal["dev", "test", "prod"] = Field(
        default="dev", description="test: deterministic stand-in models, no artifact files."
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
    # API
    api_pool_min: int = Field(default=2, ge=1)
    api_pool_max: int = Field(default=10, ge=1)
    api_max_wait_seconds: float = Field(default=30.0, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
