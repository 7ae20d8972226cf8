"""API keys on write endpoints: a cached set of active key digests, reloaded on NOTIFY api_keys_changed."""

from __future__ import annotations

from time import monotonic
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from psycopg_pool import AsyncConnectionPool

from service.repository.api_keys import key_digest, key_digests

# A missed notification (connection dropped at the wrong moment) is repaired by this reload period.
RELOAD_SECONDS = 60.0

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required on write endpoints once an API key exists (always with ENV=prod).",
)


class ApiKeys:
    """Which keys may write. Keys are required once any was created (revoking the last one does not
    reopen writes), or always when `forced` (ENV=prod, API_KEYS_REQUIRED)."""

    def __init__(self, pool: AsyncConnectionPool, forced: bool = False) -> None:
        self._pool = pool
        self.forced = forced
        self._digests: frozenset[str] = frozenset()
        self._configured = False
        self._loaded_at: float | None = None

    async def refresh(self) -> None:
        self._digests, self._configured = await key_digests(self._pool)
        self._loaded_at = monotonic()

    @property
    def active(self) -> int:
        return len(self._digests)

    async def allows(self, key: str | None) -> bool:
        """Whether a write carrying `key` (None: no header) may proceed."""
        if self._loaded_at is None or monotonic() - self._loaded_at > RELOAD_SECONDS:
            await self.refresh()
        if not (self.forced or self._configured):
            return True
        return key is not None and key_digest(key) in self._digests


async def require_write_key(request: Request, key: Annotated[str | None, Depends(api_key_header)]) -> None:
    """Dependency of write endpoints: 401 unless keys are off or `X-API-Key` is an active key."""
    if not await request.app.state.services.keys.allows(key):
        raise HTTPException(401, "missing or invalid X-API-Key", headers={"WWW-Authenticate": "X-API-Key"})
