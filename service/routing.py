"""Routes whose JSON bodies are parsed by orjson (the hot submission paths), and whose plain requests
skip FastAPI's per-request dependency solving (service/plain_case.py) and, for a lane's route
(`PlainLanes`), the middleware stack as well.

FastAPI parses a body with `await request.json()` (the standard library's json). Here the request
handed to FastAPI parses with orjson first; for anything orjson refuses (invalid JSON, and what the
standard library takes but orjson does not: lone surrogates, NaN, integers beyond 64 bits) the
standard library decides, so every body is accepted or refused, with the same message, as before."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import ApiMetrics
from service.plain_case import NotPlain, handler_of

# Scope key set by PlainLanes when it found a request not plain, before handing it to the stack.
PLAIN_TRIED = "futurisys.plain_tried"


class FastJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._json = json.loads(body)
        return self._json


class FastJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        endpoint = self.endpoint

        async def parse_fast(request: Request) -> Response:
            fast = FastJsonRequest(request.scope, request.receive, request._send)
            plain = handler_of(endpoint)  # looked up here: registered after the route is made
            if plain is not None and PLAIN_TRIED not in request.scope:
                try:
                    return await plain(fast)
                except NotPlain:
                    pass  # raised before anything was done; a body read is cached in `fast`
            return await handler(fast)

        return parse_fast


@dataclass(frozen=True)
class Lane:
    """A route whose plain requests `PlainLanes` takes past the middleware stack: `method` and `path`
    exactly (no path parameters), answered by `endpoint`'s plain-case handler; `max_body_size` is the
    route's own body limit."""

    method: str
    path: str
    endpoint: Callable[..., Any]
    max_body_size: int


class PlainLanes:
    """The outermost ASGI layer: a request to a lane's route goes straight to its plain-case handler,
    past what every other request crosses (Starlette's and FastAPI's error, body-limit and exit-stack
    middleware, the metrics middleware, the router: a fifth of the API's CPU per plain submission).

    What those layers would have done, it does the same way: the body limit (the route's own, which
    FastAPI puts in place of the app's) is the plain case's Content-Length check; the answer is timed
    and counted as the metrics middleware does; an exception raised by the handler is answered by the
    app's exception handler for it, as the error middleware would. Anything not plain goes through
    the whole stack unchanged, with what the handler had read of the body handed on first."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI, metrics: ApiMetrics, lanes: Iterable[Lane]) -> None:
        self.app = app
        self._fastapi = fastapi
        self._metrics = metrics
        self._lanes = {(lane.method, lane.path): lane for lane in lanes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self._lanes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        plain = None if lane is None or scope.get("root_path") else handler_of(lane.endpoint)
        if plain is None:
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        received: list[Message] = []

        async def recorded() -> Message:
            message = await receive()
            received.append(message)
            return message

        own_scope = {**scope, MAX_BODY_SIZE_SCOPE_KEY: lane.max_body_size}
        request = FastJsonRequest(own_scope, recorded, send)
        status = 500
        try:
            try:
                response = await plain(request)
            except NotPlain:  # raised before anything was done: the whole stack decides
                lane = None
                scope[PLAIN_TRIED] = True  # so the route does not try the plain case again
                await self.app(scope, _replaying(received, receive), send)
                return
            except Exception as exc:
                response, unhandled = await self._answer(request, exc)
                status = response.status_code
                await response(own_scope, receive, send)
                if unhandled:  # as Starlette's error middleware: answered, then raised to the server
                    raise
                return
            status = response.status_code
            await response(own_scope, receive, send)
        finally:
            if lane is not None:  # counted as the metrics middleware counts (a fallback counts there)
                self._metrics.observe_http(lane.method, lane.path, status, perf_counter() - started)

    async def _answer(self, request: Request, exc: Exception) -> tuple[Response, bool]:
        """The app's answer to `exc` (its handler for the nearest class), and whether it was the
        catch-all one for Exception (which Starlette answers and then raises on)."""
        handlers = self._fastapi.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                answer = handler(request, exc)
                response = await answer if inspect.isawaitable(answer) else answer
                return response, cls is Exception
        raise exc


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """`receive` with the messages already taken from it given again first."""
    pending = list(received)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again
