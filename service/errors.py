"""How failures reach clients: 422 naming the field, 503 while the database is away, never a trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from psycopg_pool import PoolTimeout
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import DATABASE_DOWN, SCHEMA_BEHIND, MaybeStored, NotStored, accepts_connections

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "1"
# A location's leading part says where the field is (the body, the query string, …); messages leave it out.
SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


def printable(text: str) -> str:
    """`text` with what UTF-8 cannot encode (a lone UTF-16 surrogate, valid JSON text) written as an
    escape, `\\ud800`: an error that quotes the input must not fail to encode itself."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def field_error(loc: Sequence[str | int], message: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 body, in FastAPI's shape: {"loc": [...], "msg": ..., "type": ...}."""
    return {"loc": list(loc), "msg": message, "type": kind}


def invalid(loc: Sequence[str | int], message: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 for one field, e.g. invalid(("body", "items", 3, "age"), "must be between 18 and 60")."""
    return RequestValidationError([field_error(loc, message, kind)])


def _dotted(loc: Sequence[str | int]) -> str:
    """`items.3.age` for ("body", "items", 3, "age"); the source stays when it is all there is."""
    parts = loc[1:] if len(loc) > 1 and loc[0] in SOURCES else loc
    return ".".join(str(part) for part in parts)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # The input is not echoed back: it may be a 10,000-item batch.
    errors = []
    for e in exc.errors():
        loc = [printable(part) if isinstance(part, str) else part for part in e.get("loc", ())]
        msg = printable(str(e.get("msg", "invalid value")))
        name = _dotted(loc)
        errors.append(field_error(loc, msg if msg.startswith(name) else f"{name}: {msg}", e.get("type", "")))
    return JSONResponse({"detail": errors}, status_code=422)


def too_large(scope: Scope) -> str:
    limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    return "request body too large" + (f": at most {limit} bytes here" if limit else "")


async def http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's answer for an HTTPException, with a detail that quotes the input made encodable."""
    if exc.status_code == 413:
        exc.detail = too_large(request.scope)
    elif isinstance(exc.detail, str):
        exc.detail = printable(exc.detail)
    return await http_exception_handler(request, exc)


class JsonTooLarge:
    """Starlette's body limit answers a 413 in plain text when it stops a body before any handler runs
    (a Content-Length over the limit), in JSON when a handler does (a chunked body): always JSON here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        replacing = False

        async def send_json(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                replacing = "json" not in Headers(raw=message["headers"]).get("content-type", "")
                if replacing:
                    await JSONResponse({"detail": too_large(scope)}, 413)(scope, receive, send)
                    return
            if not replacing:
                await send(message)

        await self.app(scope, receive, send_json)


async def outage(request: Request, exc: BaseException) -> str:
    """What a database error means for the client: busy (every pooled connection stayed in use while
    the server accepts new ones) or unavailable. A pool also times out when it cannot connect at all."""
    timed_out = isinstance(exc, PoolTimeout) or isinstance(exc.__cause__, PoolTimeout)
    if timed_out and await accepts_connections(request.app.state.services.pool.conninfo):
        return "database busy: every pooled connection stayed in use"
    return "database unavailable"


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": RETRY_AFTER_SECONDS})


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return _unavailable(f"{await outage(request, exc)}; the service recovers by itself, retry shortly")


async def not_stored(request: Request, exc: Exception) -> JSONResponse:
    log.warning("submission not stored during %s %s: %s", request.method, request.url.path, exc)
    return _unavailable(f"{await outage(request, exc)}; nothing was stored, retry shortly")


async def maybe_stored(request: Request, exc: Exception) -> JSONResponse:
    log.warning("connection lost while storing during %s %s: %s", request.method, request.url.path, exc)
    detail = "database connection lost while storing the request: it may have been stored. "
    if request.headers.get("idempotency-key"):
        detail += "Retry with the same Idempotency-Key: you get the original if it was stored, never two."
    else:
        detail += (
            "A retry may store it twice: look for it in GET /predictions/history first, and send an "
            "Idempotency-Key header with submissions so that a retry is always safe."
        )
    return _unavailable(detail)


async def schema_behind(request: Request, exc: Exception) -> JSONResponse:
    log.error("database schema behind the code during %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "database schema is not current (run python -m sql); see GET /health"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error during %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    for exc_type in DATABASE_DOWN:
        app.add_exception_handler(exc_type, database_down)
    for exc_type in SCHEMA_BEHIND:
        app.add_exception_handler(exc_type, schema_behind)
    app.add_exception_handler(NotStored, not_stored)
    app.add_exception_handler(MaybeStored, maybe_stored)
    app.add_exception_handler(Exception, unexpected)
