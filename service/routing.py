"""Routes whose JSON bodies are parsed by orjson (the hot submission paths), and whose plain requests
skip FastAPI's per-request dependency solving (service/plain_case.py).

FastAPI parses a body with `await request.json()` (the standard library's json). Here the request
handed to FastAPI parses with orjson first; for anything orjson refuses (invalid JSON, and what the
standard library takes but orjson does not: lone surrogates, NaN, integers beyond 64 bits) the
standard library decides, so every body is accepted or refused, with the same message, as before."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from service.plain_case import NotPlain, handler_of


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
            if plain is not None:
                try:
                    return await plain(fast)
                except NotPlain:
                    pass  # raised before anything was done; a body read is cached in `fast`
            return await handler(fast)

        return parse_fast
