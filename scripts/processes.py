"""Start a child process, wait until it is up, stop it: the one launcher behind `make run`
(scripts/run_stack.py), `make bench` (bench/stack.py) and the test stack (tests/stack.py).

- `start` runs a command with its environment, its output to a log file (or inherited).
- `wait_until` / `wait_http` wait for a readiness check with a deadline; a child that exits first, or a
  deadline that passes, raises an error that quotes the tail of the child's log.
- `serve` starts a server on a free port it verifies: the port was free when picked, and the server
  that answers is the child (not another process that took the port meanwhile); a lost race retries.
- `stop` / `stop_all`: SIGTERM (or the signal given), then SIGKILL once the timeout has passed.

Standard library only (and httpx, a runtime dependency): `make run` installs no dev extras.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def python(*args: str) -> list[str]:
    """`python ARGS` with this interpreter (the project's venv)."""
    return [sys.executable, *args]


def start(
    cmd: Sequence[str],
    env: Mapping[str, str],
    log: Path | None = None,
    own_session: bool = True,
    cwd: Path = ROOT,
) -> subprocess.Popen:
    """Start `cmd` with exactly `env`; stdout and stderr appended to `log` (else inherited).

    `own_session`: the child leads a process group of its own, so a signal to the launcher's group
    (a terminal's Ctrl-C) does not reach it and `stop` can kill the child's own children with it.
    """
    out = open(log, "ab") if log else None  # noqa: SIM115 - the child holds its own copy; closed below
    try:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=own_session,
        )
    finally:
        if out is not None:
            out.close()


def log_tail(log: Path | None, chars: int = 3000) -> str:
    """The end of `log`, to quote in an error ("" without a log)."""
    if log is None:
        return ""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return f"\n--- {log} (tail) ---\n{text[-chars:]}"


def wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen,
    what: str,
    timeout: float,
    log: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `ready()` until it is true. RuntimeError when `proc` exits first, TimeoutError when `timeout`
    seconds pass; both say `what` was awaited and quote the end of `log`."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {what}{log_tail(log)}")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s{log_tail(log)}")
        time.sleep(interval)


def answers(url: str, ok: Callable[[int], bool] = lambda status: status < 500) -> bool:
    """Whether `url` answers now with a status `ok` accepts."""
    try:
        return ok(httpx.get(url, timeout=1.0).status_code)
    except httpx.HTTPError:
        return False


def wait_http(
    url: str,
    proc: subprocess.Popen,
    timeout: float,
    log: Path | None = None,
    ok: Callable[[int], bool] = lambda status: status < 500,
) -> None:
    """Wait until `url` answers (with a status `ok` accepts: below 500 unless told) while `proc` runs."""
    wait_until(lambda: answers(url, ok), proc, f"{url} answered", timeout, log)


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on at this instant. Another process may take it before the child binds
    it: `serve` checks that the one answering there is its child."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _listening_inodes(port: int) -> set[str] | None:
    """Socket inodes listening on TCP `port` (any address), from /proc/net; None where it cannot say."""
    found: set[str] = set()
    read = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        read = True
        for line in lines:
            fields = line.split()
            # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 is the socket's inode.
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found if read else None


def holds_port(pid: int, port: int) -> bool | None:
    """Whether process `pid` itself listens on TCP `port`; None where /proc cannot say (not Linux)."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return None
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


class PortTaken(RuntimeError):
    """The server's port is held by another process: it answers there, not the child."""


def wait_serving(
    proc: subprocess.Popen, port: int, health: str, timeout: float, log: Path | None = None
) -> None:
    """Wait until `health` answers 200 from `proc` itself: PortTaken when another process holds `port`
    (the answer came from it), RuntimeError/TimeoutError as `wait_until`."""

    def ready() -> bool:
        if not answers(health, lambda status: status == 200):
            return False
        if holds_port(proc.pid, port) is False:
            raise PortTaken(f"port {port} is held by another process: what answers {health} is not the child")
        return True

    wait_until(ready, proc, f"{health} answered", timeout, log)


def serve(
    cmd_on: Callable[[int], Sequence[str]],
    env: Mapping[str, str],
    health_path: str,
    timeout: float,
    log: Path | None = None,
    attempts: int = 3,
) -> tuple[subprocess.Popen, str]:
    """Start the server `cmd_on(port)` on a free port of 127.0.0.1 and return (process, base URL) once
    `health_path` answers 200 from it. A port another process took first (the child exits, or someone
    else answers) is given up for a new one, up to `attempts` times."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        proc = start(cmd_on(port), env, log)
        base = f"http://{LOOPBACK}:{port}"
        try:
            wait_serving(proc, port, base + health_path, timeout, log)
            return proc, base
        except PortTaken:
            stop(proc)
            if attempt == attempts:
                raise
        except RuntimeError:  # the child exited: a lost race when someone else has the port now
            if attempt == attempts or port_is_free(port):
                raise
        except BaseException:
            stop(proc)
            raise
    raise AssertionError("unreachable")


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether nobody listens on `port` now."""
    listening = _listening_inodes(port)
    if listening is not None:
        return not listening
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _kill(proc: subprocess.Popen) -> None:
    """SIGKILL the child, and its process group when it leads one of its own (never the launcher's)."""
    try:
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    proc.kill()


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
    """Send `sig` and wait; SIGKILL it if it outlives `timeout` seconds. Returns its exit code."""
    return stop_all([("process", proc)], sig, timeout)[0]


def stop_all(
    procs: Iterable[tuple[str, subprocess.Popen]],
    sig: int = signal.SIGTERM,
    timeout: float = 15.0,
    say: Callable[[str], object] | None = None,
) -> list[int]:
    """`stop` for several children at once: all signalled first, then one deadline for all of them.
    `say` hears which ones had to be killed. Returns their exit codes, in order."""
    procs = list(procs)
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    deadline = time.monotonic() + timeout
    codes = []
    for name, proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            if say is not None:
                say(f"{name} did not stop in time; killing it")
            _kill(proc)
            proc.wait(5)
        codes.append(proc.returncode)
    return codes
