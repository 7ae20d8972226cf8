"""Property-based fuzz of the OpenAPI schema (schemathesis, bounded): no 5xx, no response off-schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack import running_api

pytestmark = pytest.mark.slow

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# Bounded to stay well under a minute: 40 examples per operation, fixed seed, no stateful phase.
OPTIONS = [
    "--max-examples", "40", "--seed", "20240611", "--phases", "examples,coverage,fuzzing",
    "--request-timeout", "40", "--no-color",
]  # fmt: skip

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def test_fuzzing_the_openapi_schema_finds_no_server_error_and_no_schema_violation(
    db_url: str, tmp_path: Path, stand_in_env: dict[str, str]
) -> None:
    # No listener runs: cap ?wait=S so that fuzzed waits do not sit out their 30 s.
    env = {**stand_in_env, "API_MAX_WAIT_SECONDS": "0.05"}
    with running_api(db_url, env=env, log=tmp_path / "api.log") as base:
        result = subprocess.run(
            [SCHEMATHESIS, "run", f"{base}/openapi.json", "--checks", CHECKS, *OPTIONS],
            cwd=tmp_path,  # schemathesis keeps its example database in .schemathesis/
            capture_output=True,
            text=True,
            timeout=170,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Traceback" not in (tmp_path / "api.log").read_text()
