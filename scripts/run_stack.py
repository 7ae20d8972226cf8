"""`make run`: PostgreSQL (embedded unless DATABASE_URL is set), schema, models, API, listener, UI.

Ctrl-C (or SIGTERM) stops every process it started, then the embedded PostgreSQL if this run
started it, so nothing is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from scripts.processes import python, start, stop_all, wait_serving, wait_until  # noqa: E402
from service.__main__ import DEFAULT_PORT as DEFAULT_API_PORT  # noqa: E402
from sql.embedded import open_database  # noqa: E402
from sql.migrate import migrate  # noqa: E402
from sql.named_queries import QUERIES  # noqa: E402

API_HOST = "127.0.0.1"
API_PORT = int(os.environ.get("FUTURISYS_API_PORT", DEFAULT_API_PORT))
UI_PORT = int(os.environ.get("FUTURISYS_UI_PORT", "8501"))
UI_HOST = os.environ.get("FUTURISYS_UI_HOST", "127.0.0.1")  # 0.0.0.0 in the image's space mode
RUN_DIR = Path(os.environ.get("FUTURISYS_RUN_DIR", ROOT / ".run"))
#: How long the API and the dashboard may take to answer their health URLs once started.
UP_TIMEOUT = 300.0


class Stop(Exception):
    """Raised by the signal handler to unwind the launcher."""


def _on_signal(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def dev_api_key(url: str) -> str | None:
    """FUTURISYS_API_KEY, else the one development key kept in .run/api-key (created on first use)."""
    if os.environ.get("FUTURISYS_API_KEY"):
        print("API key    FUTURISYS_API_KEY from the environment")
        return os.environ["FUTURISYS_API_KEY"]
    from service.keys_cli import development_key

    try:
        key, created = development_key(url, RUN_DIR / "api-key")
    except psycopg.Error as exc:
        print(f"warning: no development API key: {exc}", file=sys.stderr)
        return None
    how = "created" if created else "reused"
    print(f"API key    {how}, in {RUN_DIR / 'api-key'} (mode 0600); send it as X-API-Key")
    return key


#: The LOGIN role each process runs as, in its group role (sql/grants.sql says what each may do).
PROCESS_LOGINS = {"api": "futurisys_run_api", "listener": "futurisys_run_listener"}


def login_password(path: Path) -> str:
    """The launcher's password for its login roles: kept in `path` (mode 0600) so reruns reuse it."""
    from sql.logins import new_password

    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    password = new_password()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    return password


def process_database_urls(url: str) -> dict[str, str]:
    """API_DATABASE_URL and LISTENER_DATABASE_URL: each from the environment when set, else a LOGIN role
    made here in its group (futurisys_api, futurisys_listener), so each process runs with only its own
    rights. Without the right to create roles, the processes fall back to DATABASE_URL (one warning)."""
    from sql.logins import GROUPS, ensure_login

    urls: dict[str, str] = {}
    for process, login in PROCESS_LOGINS.items():
        variable = f"{process.upper()}_DATABASE_URL"
        if os.environ.get(variable):
            print(f"{process:<10} connects with {variable} from the environment")
            continue
        try:
            urls[variable] = ensure_login(url, login, process, login_password(RUN_DIR / "db-password"))
        except psycopg.Error as exc:
            print(
                f"warning: {process} runs with DATABASE_URL's role, not as {login}: {exc}".rstrip(),
                file=sys.stderr,
            )
            continue
        print(f"{process:<10} runs as database role {login} (member of {GROUPS[process]})")
    return urls


def start_processes(env: dict[str, str]) -> list[tuple[str, subprocess.Popen]]:
    specs = [
        ("api", python("-m", "service", "--host", API_HOST, "--port", str(API_PORT))),
        ("listener", python("-m", "listener")),
        (
            "ui",
            python(
                "-m",
                "streamlit",
                "run",
                "ui/app.py",
                "--server.headless",
                "true",
                "--server.address",
                UI_HOST,
                "--server.port",
                str(UI_PORT),
                "--browser.gatherUsageStats",
                "false",
                "--client.toolbarMode",
                "minimal",
            ),
        ),
    ]
    # In the launcher's process group: a terminal's Ctrl-C reaches them too, as it did before.
    return [(name, start(cmd, child_env(env, name), own_session=False)) for name, cmd in specs]


def child_env(env: dict[str, str], name: str) -> dict[str, str]:
    """`env` without the database URLs `name` has no use for: a process that connects as its own role
    is not handed the launcher's (owner) DATABASE_URL, and the dashboard talks to the API only."""
    own = {"api": "API_DATABASE_URL", "listener": "LISTENER_DATABASE_URL"}.get(name)
    if own is not None and own not in env:
        return env  # no role of its own: it runs with DATABASE_URL
    drop = {"DATABASE_URL", "API_DATABASE_URL", "LISTENER_DATABASE_URL"} - {own}
    return {k: v for k, v in env.items() if k not in drop}


def warn(line: str) -> None:
    print(line, file=sys.stderr)


def supervise(procs: list[tuple[str, subprocess.Popen]]) -> None:
    """Return when a child exits or our parent (make) goes away."""
    parent = os.getppid()
    while True:
        for name, proc in procs:
            if proc.poll() is not None:
                print(f"{name} exited with code {proc.returncode}; stopping the rest", file=sys.stderr)
                return
        if os.getppid() != parent:
            return
        time.sleep(0.5)


def health_urls() -> dict[str, tuple[int, str]]:
    """What says each server is up: (its port, its health URL), asked on the loopback interface when
    it listens on every address."""
    ui_host = "127.0.0.1" if UI_HOST in ("0.0.0.0", "::", "") else UI_HOST
    return {
        "api": (API_PORT, f"http://{API_HOST}:{API_PORT}/health"),
        "ui": (UI_PORT, f"http://{ui_host}:{UI_PORT}/_stcore/health"),
    }


def wait_up(procs: list[tuple[str, subprocess.Popen]]) -> None:
    """Return once the API and the dashboard answer their health URLs, each from the process started
    here (not another one on the same port). RuntimeError/TimeoutError otherwise."""
    started = dict(procs)
    for name, (port, url) in health_urls().items():
        wait_serving(started[name], port, url, timeout=UP_TIMEOUT)


def wait_listening(url: str, procs: list[tuple[str, subprocess.Popen]], launched: float) -> None:
    """Return once a listener started by this run has registered: its heartbeat row appears when it is
    LISTENing with its models loaded, so a request submitted from then on is answered at once."""

    def registered() -> bool:
        seen_since = {"alive_seconds": time.time() - launched}  # rows an earlier run left do not count
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(QUERIES["listeners_alive"], seen_since).fetchone()
        return bool(row and row[0])

    listener = dict(procs)["listener"]
    wait_until(registered, listener, "the listener registering", timeout=UP_TIMEOUT, interval=0.2)


def main() -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    database = None
    procs: list[tuple[str, subprocess.Popen]] = []
    try:
        database = open_database(say=print)
        url = database.url
        print(f"database   {url}")
        applied = migrate(url)
        print("schema: " + (", ".join(applied) if applied else "up to date"))
        env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
        if subprocess.run(python("-m", "model_store"), cwd=ROOT, env=env).returncode != 0:
            print("model store failed; see above", file=sys.stderr)
            return 1
        key = dev_api_key(url)
        env.update(process_database_urls(url))
        env["FUTURISYS_API_URL"] = f"http://{API_HOST}:{API_PORT}"
        if key:
            env["FUTURISYS_API_KEY"] = key
        launched = time.time() - 1  # the database's clock and ours: a second of slack
        procs = start_processes(env)
        try:
            wait_up(procs)
            wait_listening(url, procs, launched)
        except (RuntimeError, TimeoutError) as exc:
            print(f"not started: {exc}; stopping the rest", file=sys.stderr)
            return 1
        print(f"\nAPI        http://{API_HOST}:{API_PORT}  (docs: /docs)")
        print(f"dashboard  http://{UI_HOST}:{UI_PORT}")
        print("Ctrl-C stops everything.\n")
        supervise(procs)
    except Stop as stop:
        print(f"\n{stop}: stopping…")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(procs, say=warn)
        if database is not None:
            database.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
