"""`python -m service [--host H] [--port P]` serves the API; `python -m service keys ...` manages API keys."""

from __future__ import annotations

import argparse
import gc
import sys

from service.settings import get_api_settings
from sql.embedded import open_database

#: The API's port unless --port says otherwise; `make run` (scripts/run_stack.py) serves it there too.
#: ui/settings.py writes it again in the dashboard's default API URL: the dashboard may not import service.
DEFAULT_PORT = 8000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    commands = parser.add_subparsers(dest="command")
    keys = commands.add_parser("keys", help="create, revoke or list API keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it (once) on stdout")
    create.add_argument("name")
    create.add_argument(
        "--scope",
        action="append",
        metavar="S",
        help="submit (write, read back its own requests; the default), read (read every request),"
        " admin (keys and the audit trail through the API); repeat or comma-separate for several",
    )
    create.add_argument("--quiet", action="store_true", help="print the key only")
    actions.add_parser("revoke", help="revoke a key by name").add_argument("name")
    actions.add_parser("list", help="list keys (names and dates, never the keys)")
    return parser.parse_args(argv)


def freeze_heap() -> None:
    """Collect the start-up garbage once, then keep what survives (imports, routes, models, caches)
    out of every later collection (gc.freeze): a full collection then walks only what serving made.
    Only in this process of its own: tests start the app in theirs, where the freeze is process-wide."""
    gc.collect()
    gc.freeze()


def serve(host: str, port: int) -> int:
    import uvicorn

    from service.app import create_app

    # Released in the lifespan shutdown: uvicorn re-raises SIGTERM after it, so no `finally` would run.
    database = open_database(process="api")
    app = create_app(conninfo=database.url, on_shutdown=database.release, on_started=freeze_heap)
    # uvicorn exits with 3 when the lifespan startup refuses (ENV=prod without an API key: the one place
    # that rule is checked is the app's startup, service/app.py, which logs why).
    uvicorn.run(app, host=host, port=port, access_log=get_api_settings().api_access_log, lifespan="on")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "keys":
        from service.keys_cli import run

        with open_database() as url:
            return run(
                url,
                args.action,
                getattr(args, "name", None),
                getattr(args, "quiet", False),
                getattr(args, "scope", None),
            )
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
