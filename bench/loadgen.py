"""The outside load generator: Debian's `wrk`, driven with the Lua scripts in bench/wrk/."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

WRK_DIR = Path(__file__).parent / "wrk"
INSTALL_HINT = (
    "make bench needs Debian's HTTP load generator wrk: `sudo apt-get install -y wrk` "
    "(or `apt-get install -y wrk` as root; on macOS `brew install wrk`)"
)


class WrkMissing(RuntimeError):
    pass


def wrk_path() -> str:
    """The wrk binary; installed with apt-get when absent and we are root, else WrkMissing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run([apt, "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissing(INSTALL_HINT)


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    unexpected_status: int
    # (latency in µs, how many requests took it), ascending: wrk's whole histogram, to pool runs' samples
    histogram: tuple[tuple[int, int], ...] = ()

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds

    def figures(self) -> dict[str, float]:
        return {
            "requests": self.requests,
            "per_s": round(self.per_s),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
        }


def run(
    url: str, script: str, args: list[str], connections: int, seconds: float, histogram: bool = False
) -> WrkRun:
    """`wrk` for `seconds` with `connections` keep-alive connections (one thread per core, at most);
    `histogram`: with wrk's whole latency histogram (WrkRun.histogram), to pool several runs."""
    threads = max(1, min(connections, 2))
    cmd = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_DIR / script),
        url,
        "--",
        *args,
    ]
    env = {**os.environ, "WRK_HISTOGRAM": "1" if histogram else "0"}
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout}")
    out = done.stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    result = WrkRun(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        socket_errors=raw["socket_errors"],
        unexpected_status=raw["unexpected_status"],
        histogram=tuple(zip(raw["histogram"][::2], raw["histogram"][1::2], strict=True)),
    )
    if result.socket_errors or result.unexpected_status:
        raise RuntimeError(
            f"wrk {script} {args[1:] if args else ''}: {result.socket_errors} socket errors, "
            f"{result.unexpected_status} unexpected statuses of {result.requests}"
        )
    return result


def pooled_percentile_ms(runs: list[WrkRun], percent: float) -> float:
    """The percentile of every request of the runs together, as wrk ranks one run's (its stats.c)."""
    counts: dict[int, int] = {}
    for run in runs:
        for us, count in run.histogram:
            counts[us] = counts.get(us, 0) + count
    rank = math.floor(percent / 100 * sum(counts.values()) + 1.0)  # C's round(x + 0.5), as wrk's
    seen = 0
    for us in sorted(counts):
        seen += counts[us]
        if seen >= rank:
            return us / 1000
    return max(counts, default=0) / 1000


def bodies_file(rows: list[dict], model: str, directory: Path | None = None) -> Path:
    """One `{"model_name", "features"}` body per line, for wrk/post.lua."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
        "w", suffix=".jsonl", prefix=f"bodies-{model}-", dir=directory, delete=False
    )
    with handle:
        for row in rows:
            handle.write(json.dumps({"model_name": model, "features": row}, separators=(",", ":")) + "\n")
    return Path(handle.name)


def submit_and_wait(
    base: str, bodies: Path, connections: int, seconds: float, wait: float = 10, histogram: bool = False
) -> WrkRun:
    path = f"/predictions/request?wait={wait:g}"
    return run(base, "post.lua", [str(bodies), path, "200"], connections, seconds, histogram)


def submit_only(base: str, bodies: Path, connections: int, seconds: float) -> WrkRun:
    return run(base, "post.lua", [str(bodies), "/predictions/request", "202"], connections, seconds)


def trivial(base: str, path: str, connections: int, seconds: float, histogram: bool = False) -> WrkRun:
    return run(base + path, "get.lua", [], connections, seconds, histogram)
