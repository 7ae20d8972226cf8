"""API keys with scopes: who is calling, and whether that scope may do what the endpoint does.

The API keeps the active keys (digest, id, name, scopes) in memory and reloads them on NOTIFY
api_keys_changed. Once any key exists (or always when forced: ENV=prod, API_KEYS_REQUIRED) every
endpoint that returns or writes requests needs one: 401 without a key or with a bad one, 403 for a
key outside the endpoint's scope. A submit-only key sees the requests it submitted and no other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader
from psycopg_pool import AsyncConnectionPool

from service.repository.api_keys import KeyInfo, key_cache, key_digest

# A missed notification (connection dropped at the wrong moment) is repaired by this reload period.
RELOAD_SECONDS = 60.0
# An unknown key reloads the cache (a key created a moment ago), at most this often.
UNKNOWN_KEY_RELOAD_SECONDS = 0.5

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required once an API key exists (always with ENV=prod); its scopes decide what it may do.",
)


@dataclass(frozen=True)
class Caller:
    """Who calls: a key (id, name, scopes), or anyone while keys are not in use (key_id None)."""

    key_id: int | None
    name: str | None
    scopes: frozenset[str]

    @property
    def actor(self) -> str:
        """How the audit trail names the caller."""
        return f"key:{self.name}" if self.name else "api:no-key"

    @property
    def sees_all(self) -> bool:
        return self.key_id is None or "read" in self.scopes

    @property
    def only_key(self) -> int | None:
        """The key whose requests this caller may read; None: every request."""
        return None if self.sees_all else self.key_id

    def owns(self, row: dict[str, Any] | None) -> bool:
        """Whether this caller may see the request `row` (a row with api_key_id)."""
        return row is not None and (self.sees_all or row["api_key_id"] == self.key_id)


OPEN = Caller(None, None, frozenset({"submit", "read"}))


class ApiKeys:
    """The active keys. Keys are required once any was created (revoking the last one does not
    reopen the API), or always when `forced` (ENV=prod, API_KEYS_REQUIRED)."""

    def __init__(self, pool: AsyncConnectionPool, forced: bool = False) -> None:
        self._pool = pool
        self.forced = forced
        self._keys: dict[str, KeyInfo] = {}
        self._configured = False
        self._loaded_at: float | None = None

    async def refresh(self) -> None:
        self._keys, self._configured = await key_cache(self._pool)
        self._loaded_at = monotonic()

    @property
    def active(self) -> int:
        return len(self._keys)

    def _age(self) -> float:
        return float("inf") if self._loaded_at is None else monotonic() - self._loaded_at

    async def required(self) -> bool:
        """Whether callers need a key (after reloading the cache when it is old)."""
        if self._age() > RELOAD_SECONDS:
            await self.refresh()
        return self.forced or self._configured

    async def find(self, key: str) -> KeyInfo | None:
        """The active key `key` is, or None."""
        digest = key_digest(key)
        found = self._keys.get(digest)
        if found is None and self._age() > UNKNOWN_KEY_RELOAD_SECONDS:
            await self.refresh()
            found = self._keys.get(digest)
        return found


def _refused(status: int, detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": "X-API-Key"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


def _needs(scopes: tuple[str, ...]) -> str:
    return "scope " + " or ".join(scopes)


async def _identify(request: Request, key: str | None, scopes: tuple[str, ...], always: bool) -> Caller:
    keys: ApiKeys = request.app.state.services.keys
    if not always and not await keys.required():
        return OPEN
    if key is None:
        raise _refused(401, f"missing X-API-Key: this endpoint needs a key with {_needs(scopes)}")
    found = await keys.find(key)
    if found is None:
        raise _refused(401, "invalid X-API-Key: no active key has it (wrong, or revoked)")
    if not found.scopes & set(scopes):
        held = ", ".join(sorted(found.scopes))
        raise _refused(403, f"key {found.name!r} has scope {held}; this endpoint needs {_needs(scopes)}")
    return Caller(found.id, found.name, found.scopes)


async def identify(request: Request, *scopes: str, always: bool = False) -> Caller:
    """What `needs(*scopes, always=always)` answers for `request`, outside FastAPI's dependency solving
    (a route's plain case, service/routing.py): the same key header, the same 401 and 403."""
    return await _identify(request, await api_key_header(request), scopes, always)


async def identify_key(request: Request, key: str | None, *scopes: str) -> Caller:
    """`identify(request, *scopes)` with the X-API-Key header's value already read (sent at most once,
    plain_case.header): as APIKeyHeader reads it, an empty value is no key."""
    return await _identify(request, key or None, scopes, False)


def needs(*scopes: str, always: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A dependency answering the Caller when its key holds one of `scopes`; 401 or 403 otherwise.
    `always`: a key is needed even while keys are not in use (admin endpoints)."""

    async def dependency(request: Request, key: Annotated[str | None, Depends(api_key_header)]) -> Caller:
        return await _identify(request, key, scopes, always)

    dependency.scopes = scopes  # type: ignore[attr-defined]  # what tests/api/test_scopes.py checks
    return dependency


Submitter = Annotated[Caller, Depends(needs("submit"))]
Reader = Annotated[Caller, Depends(needs("read", "submit"))]


def not_found(request_id: object) -> HTTPException:
    """The answer for a request that does not exist, or that this caller may not see (both alike)."""
    return HTTPException(404, f"prediction request {request_id} not found")


# Endpoints that only write (and return no request data) may keep depending on this.
require_write_key = needs("submit")
