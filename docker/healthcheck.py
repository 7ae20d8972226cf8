"""The image's HEALTHCHECK: asks the process running as PID 1 whether it is healthy.

api: GET /health is 200; ui: the dashboard's own health URL; space: both; any other process
(listener, one-shot commands): alive is healthy.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

# The image sets PYTHONPATH=/app already; this keeps `python docker/healthcheck.py` working from a checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.__main__ import DEFAULT_PORT as API_PORT


def pid1_args() -> list[str]:
    with open("/proc/1/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def flag(args: list[str], name: str, default: str) -> str:
    """The last value given to `name` (argparse and streamlit both let the last one win)."""
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
    return values[-1] if values else default


def urls(args: list[str]) -> list[str]:
    # The space runs scripts/run_stack.py, which serves the API on FUTURISYS_API_PORT or the same default.
    api = f"http://127.0.0.1:{os.environ.get('FUTURISYS_API_PORT', API_PORT)}/health"
    if "service" in args:
        return [f"http://127.0.0.1:{flag(args, '--port', str(API_PORT))}/health"]
    if "streamlit" in args:
        return [f"http://127.0.0.1:{flag(args, '--server.port', '8501')}/_stcore/health"]
    if any(a.endswith("run_stack.py") for a in args):
        return [api, f"http://127.0.0.1:{os.environ.get('FUTURISYS_UI_PORT', '7860')}/_stcore/health"]
    return []


def main() -> int:
    for url in urls(pid1_args()):
        try:
            with urllib.request.urlopen(url, timeout=4) as reply:
                if reply.status != 200:
                    print(f"{url}: {reply.status}")
                    return 1
        except Exception as exc:
            print(f"{url}: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
