"""The API's settings: the shared ones (sql/settings.py) and the API's own, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from sql.settings import Settings


class ApiSettings(Settings):
    """What `python -m service` reads: DATABASE_URL and the other shared settings, API_* and the outcomes'."""

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
    api_answer_from_notify: bool = Field(
        default=True,
        description="Answer a waiting caller from the completion notification's payload (schema 022) "
        "instead of re-reading the request; false: always re-read (to compare).",
    )
    outcome_horizon_days: int = Field(
        default=365,
        ge=1,
        le=3650,
        description="An outcome posted by subject_ref is the truth for that subject's predictions made "
        "in the N days before it was observed (POST /outcomes may state its own horizon_days).",
    )


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    """The API's settings, read once per process from the environment."""
    return ApiSettings()
