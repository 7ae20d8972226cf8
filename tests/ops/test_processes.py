"""The one launcher (scripts/processes.py) behind `make run`, `make bench` and the test stack: a child that
dies or never gets ready is reported with its log's tail, a child that ignores SIGTERM is killed with its
own children, and a server never counts as up on a port another process answers on."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from scripts import processes
from scripts.processes import python
from tests.stack import foreign_http_server


def poll(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def foreign_server() -> Iterator[int]:
    with foreign_http_server() as port:
        yield port


def test_a_child_that_exits_before_it_is_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    proc = processes.start(python("-c", "print('no database here'); raise SystemExit(3)"), os.environ, log)
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3 before .*/health answered.*no database here"):
        processes.wait_http(f"http://127.0.0.1:{processes.free_port()}/health", proc, timeout=120, log=log)


def test_a_child_that_never_gets_ready_times_out_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    proc = processes.start(
        python("-c", "print('still loading', flush=True); import time; time.sleep(600)"), os.environ, log
    )
    try:
        poll(lambda: "still loading" in log.read_text(), "the child wrote its log")
        with pytest.raises(TimeoutError, match=r"(?s)the heartbeat: not within 0.2 s.*still loading"):
            processes.wait_until(lambda: False, proc, "the heartbeat", timeout=0.2, log=log)
    finally:
        assert processes.stop(proc) == -signal.SIGTERM


def test_stop_kills_a_child_that_ignores_sigterm_and_its_own_children(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    stubborn = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "kid = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(kid.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = processes.start(python("-c", stubborn), os.environ, log)
    poll(lambda: log.read_text().strip().isdigit(), "the child started its own child")
    grandchild = int(log.read_text())
    assert processes.stop(proc, timeout=0.5) == -signal.SIGKILL
    poll(lambda: gone(grandchild), "the child's own child was killed with it")


def test_stop_all_signals_every_child_and_leaves_a_stopped_one_alone() -> None:
    done = processes.start(python("-c", "pass"), os.environ)
    done.wait(60)
    sleeping = processes.start(python("-c", "import time; time.sleep(600)"), os.environ)
    assert processes.stop_all([("done", done), ("sleeping", sleeping)]) == [0, -signal.SIGTERM]


def test_a_port_is_held_by_the_process_listening_on_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert processes.holds_port(os.getpid(), port) is False  # bound, not listening
        s.listen()
        assert processes.holds_port(os.getpid(), port) is True
        assert not processes.port_is_free(port)
    assert processes.port_is_free(port)


def test_a_server_on_a_port_another_process_answers_on_is_not_taken_for_the_child(
    foreign_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port-collision risk of the bench (and of any test stack): a free port picked, then taken by
    someone else before the child binds it. The answer must come from the child; else a new port."""
    log = tmp_path / "server.log"
    proc = processes.start(python("-c", "import time; time.sleep(600)"), os.environ, log)
    try:
        with pytest.raises(processes.PortTaken, match=f"port {foreign_server} is held by another process"):
            processes.wait_serving(
                proc, foreign_server, f"http://127.0.0.1:{foreign_server}/health", 120, log
            )
    finally:
        processes.stop(proc)

    picks = iter([foreign_server])
    real_free_port = processes.free_port

    def first_the_taken_one() -> int:
        return next(picks, None) or real_free_port()

    monkeypatch.setattr(processes, "free_port", first_the_taken_one)
    proc, base = processes.serve(
        lambda port: python(
            "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)
        ),
        os.environ,
        "/",
        120,
        log,
    )
    try:
        port = int(base.rsplit(":", 1)[1])
        assert port != foreign_server
        assert processes.holds_port(proc.pid, port) is True
        assert processes.answers(base + "/", lambda status: status == 200)
    finally:
        processes.stop(proc)
