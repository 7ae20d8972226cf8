"""Text JSON allows but UTF-8 cannot hold (a lone UTF-16 surrogate) is bad input: a 422 naming the field."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import employee
from tests.stack import running_api

LONE = "\ud800"


async def _post(client: httpx.AsyncClient, path: str, body: object) -> httpx.Response:
    # json.dumps escapes the surrogate as \ud800: valid JSON text, as a client would send it.
    content = json.dumps(body).encode("ascii")
    return await client.post(path, content=content, headers={"content-type": "application/json"})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/predictions/request", {"features": {LONE: 1}}, ["body", "features", LONE]),
        ("/predictions/request", {"features": employee(gender=LONE)}, ["body", "features", "gender"]),
        ("/predictions/request", {"features": employee(), "model_name": LONE}, ["body", "model_name"]),
        ("/predictions/batch", {"items": [employee(), {LONE: 1}]}, ["body", "items", 1, LONE]),
        ("/predictions/batch", {"items": [employee(job_role=f"x{LONE}")]}, ["body", "items", 0, "job_role"]),
        (
            "/predictions/request",
            {"features": employee(), "subject_ref": f"emp-{LONE}"},
            ["body", "subject_ref"],
        ),
        (
            "/predictions/batch",
            {"items": [employee(), {**employee(), "subject_ref": LONE}]},
            ["body", "items", 1, "subject_ref"],
        ),
        (
            "/outcomes",
            {"items": [{"subject_ref": LONE, "label": 1, "observed_at": "2026-01-01T00:00:00Z"}]},
            ["body", "items", 0, "subject_ref"],
        ),
        (
            "/outcomes",
            {
                "items": [{"subject_ref": "e1", "label": 1, "observed_at": "2026-01-01T00:00:00Z"}],
                "source": LONE,
            },
            ["body", "source"],
        ),
    ],
)
async def test_a_lone_surrogate_is_a_422_naming_the_field(
    client: httpx.AsyncClient, path: str, body: object, loc: list
) -> None:
    response = await _post(client, path, body)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    printable = [p.encode("utf-8", "backslashreplace").decode() if isinstance(p, str) else p for p in loc]
    assert error["loc"] == printable
    assert error["msg"].startswith(".".join(str(p) for p in printable[1:]) + ": ")


@pytest.mark.anyio
async def test_a_field_error_names_its_location_once(client: httpx.AsyncClient) -> None:
    items = [employee(), employee(), employee(), employee(age=150)]
    response = await client.post("/predictions/batch", json={"items": items})
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "items", 3, "age"]
    assert error["msg"].startswith("items.3.age: ") and "body" not in error["msg"]
    wait = await client.post("/predictions/request?wait=31", json={"features": employee()})
    assert wait.json()["detail"][0]["msg"].startswith("wait: ")


def _exchange(sock: socket.socket, host: str, body: bytes) -> bytes:
    head = (
        f"POST /predictions/request HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(65536)
    headers, _, rest = reply.partition(b"\r\n\r\n")
    lines = headers.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return headers.split(b"\r\n", 1)[0]


@pytest.mark.slow
def test_the_keep_alive_connection_survives_a_lone_surrogate(
    db_url: str, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    with running_api(db_url, env=stand_in_env, log=tmp_path / "api.log") as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            bad = json.dumps({"features": {LONE: 1}}).encode("ascii")
            assert b" 422 " in _exchange(sock, host, bad)
            good = json.dumps({"features": employee()}).encode()
            assert b" 202 " in _exchange(sock, host, good)
    assert "Traceback" not in (tmp_path / "api.log").read_text()
