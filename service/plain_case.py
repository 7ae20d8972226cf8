"""The plain case of a hot route: its parameters read straight from the ASGI scope, without FastAPI's
per-request dependency solving (a few hundred microseconds per request on these routes).

A route's plain-case handler (registered with `plain_case(endpoint)`, called by the route class in
service/routing.py) reads each parameter with the readers below; each reader raises NotPlain for
anything but the plainly valid value (a repeated header, a number written otherwise than in digits, a
body whose model validation fails, ...). NotPlain must come before anything is done: the request then
takes FastAPI's own path, which decides, and words the error, exactly as before. So the plain case
only ever answers what FastAPI would have answered the same way."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, ValidationError
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

PlainCase = Callable[[Request], Awaitable[Response]]
Model = TypeVar("Model", bound=BaseModel)

_HANDLERS: dict[Callable[..., Any], PlainCase] = {}
# Seconds as plain decimals (what clients send: "10", "0.5"); "1e1", " 10" or "+10" take FastAPI's path.
_PLAIN_SECONDS = re.compile(r"[0-9]{1,4}(\.[0-9]{1,9})?")


class NotPlain(Exception):
    """This request is not the plain case: it takes FastAPI's own path."""


def plain_case(endpoint: Callable[..., Any]) -> Callable[[PlainCase], PlainCase]:
    """Register the decorated function as `endpoint`'s plain-case handler."""

    def register(handler: PlainCase) -> PlainCase:
        _HANDLERS[endpoint] = handler
        return handler

    return register


def handler_of(endpoint: Callable[..., Any]) -> PlainCase | None:
    return _HANDLERS.get(endpoint)


def header(request: Request, name: bytes) -> str | None:
    """The value of header `name` (lower case) when sent at most once; NotPlain when repeated."""
    found = None
    for key, value in request.scope["headers"]:
        if key == name:
            if found is not None:
                raise NotPlain
            found = value
    return None if found is None else found.decode("latin-1")  # as Starlette decodes headers


def query_seconds(request: Request, name: str, above: float, at_most: float) -> float | None:
    """Query parameter `name` as seconds, `above` < S <= `at_most` (FastAPI's gt / le), or None when
    absent; NotPlain when repeated, out of range or not written as plain decimal digits."""
    raw = request.scope["query_string"]
    if not raw:
        return None
    text = raw.decode("latin-1")
    if "&" in text or "%" in text or "+" in text:
        values = [v for k, v in parse_qsl(text, keep_blank_values=True) if k == name]
    else:  # one field, nothing escaped: what parse_qsl gives, without its machinery
        key, _, value = text.partition("=")
        values = [value] if key == name else []
    if not values:
        return None
    if len(values) > 1 or not _PLAIN_SECONDS.fullmatch(values[0]):
        raise NotPlain
    seconds = float(values[0])
    if not above < seconds <= at_most:
        raise NotPlain
    return seconds


async def json_body(request: Request, model: type[Model]) -> Model:
    """The body as `model` when it is a JSON object of a declared length within the body limit that
    `model` validates; NotPlain otherwise (nothing is lost: the body read is cached in `request`)."""
    if header(request, b"content-type") != "application/json":
        raise NotPlain
    length = header(request, b"content-length")
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if length is None or not (length.isascii() and length.isdigit()) or limit is None or int(length) > limit:
        raise NotPlain  # a chunked or oversized body: FastAPI's path applies the limit and answers 413
    try:
        body = await request.body()
    except HTTPException:
        raise
    except Exception as exc:  # what FastAPI answers when reading the body fails (a client gone)
        raise HTTPException(400, "There was an error parsing the body") from exc
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise NotPlain from None
    if type(data) is not dict:
        raise NotPlain
    try:
        return model.model_validate(data)
    except ValidationError:
        raise NotPlain from None
