"""What one listener worker needs to know, built once from the settings and the command line."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, replace

from sql.settings import Settings


@dataclass(frozen=True)
class ListenerConfig:
    database_url: str
    poll_only: bool = False
    poll_seconds: float = 1.0
    concurrency: int = 1
    batch_size: int = 512
    lease_seconds: float = 30.0
    max_attempts: int = 3
    sweep_seconds: float = 5.0
    heartbeat_seconds: float = 5.0
    ping_seconds: float = 5.0
    reconnect_max_seconds: float = 5.0
    worker_index: int = 0
    explain_at_answer: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings, database_url: str, **overrides: object) -> ListenerConfig:
        """Settings from the environment, then command-line overrides (None means "not given")."""
        config = cls(
            database_url=database_url,
            poll_seconds=settings.listener_poll_seconds,
            concurrency=settings.listener_concurrency,
            batch_size=settings.listener_batch_size,
            lease_seconds=settings.listener_lease_seconds,
            max_attempts=settings.listener_max_attempts,
            sweep_seconds=settings.listener_sweep_seconds,
            heartbeat_seconds=settings.listener_heartbeat_seconds,
            ping_seconds=settings.listener_ping_seconds,
            reconnect_max_seconds=settings.listener_reconnect_max_seconds,
            explain_at_answer=frozenset(
                n.strip() for n in settings.listener_explain_at_answer.split(",") if n.strip()
            ),
        )
        return replace(config, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def mode(self) -> str:
        """As listener_heartbeats.mode spells it."""
        return "poll" if self.poll_only else "notify"

    def for_worker(self, index: int) -> ListenerConfig:
        return replace(self, worker_index=index)


def listener_id(worker_index: int) -> str:
    """host:pid:n — unique per process while it lives; written to claimed_by and listener_heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}:{worker_index}"
