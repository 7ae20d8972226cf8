"""How failures reach clients: 422 naming the field, 503 while the database is away, never a trace."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from service.db import DATABASE_DOWN, SCHEMA_BEHIND

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


async def http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's answer for an HTTPException, with a detail that quotes the input made encodable."""
    if isinstance(exc.detail, str):
        exc.detail = printable(exc.detail)
    return await http_exception_handler(request, exc)


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "database unavailable; the service recovers by itself when it returns, retry shortly"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


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
    app.add_exception_handler(Exception, unexpected)
