"""`make run` when another process already answers on the API's port: it does not take that server for its
own API; it says why it stops, exits non-zero, and leaves no process behind, embedded PostgreSQL included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import postgres_processes, start_launcher
from tests.stack import foreign_http_server

pytestmark = pytest.mark.slow


@pytest.fixture
def foreign_health() -> Iterator[int]:
    """Someone else's server on a port, answering 200 on /health as our API would."""
    with foreign_http_server() as port:
        yield port


def test_make_run_on_a_port_another_server_answers_on_stops_and_says_so(
    foreign_health: int, store: Path, tmp_path: Path, pg_data_dir: Path
) -> None:
    run = start_launcher(tmp_path, store, pg_data_dir, api_port=foreign_health)
    try:
        code = run.launcher.wait(300)
    finally:
        run.stop()
    log = run.log_text()
    assert code == 1, log[-3000:]
    assert f"http://127.0.0.1:{foreign_health}/health" in log and "not started:" in log, log[-3000:]
    assert "Ctrl-C stops everything" not in log, log[-3000:]  # it never claimed to be up
    assert "embedded PostgreSQL stopped" in log, log[-3000:]
    assert postgres_processes(pg_data_dir) == [], log[-3000:]
