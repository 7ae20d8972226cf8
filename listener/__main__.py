"""The listener's command line.

python -m listener [--poll-only] [--poll-interval S] [--concurrency K] [--batch-size N] [--sweep-interval S]
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from listener.config import ListenerConfig, ListenerSettings
from listener.logs import configure_logging
from sql.settings import get_settings, variable_and_default

# Optional to the libraries that would import them, and never used by a listener: pandas (which
# scikit-learn imports, and unpickling the models needs scikit-learn) imports pyarrow whenever it is
# installed (Streamlit, the dashboard's, brings it in), and scikit-learn's progress bars import rich. Both
# are imported under `try: ... except ImportError`. Kept out, a listener with its four models loaded is
# about 36 MB smaller (README, Benchmark); the artifacts hold no pandas or pyarrow object.
UNUSED_MODULES = ("pyarrow", "rich")


def keep_out_unused_modules() -> None:
    """Make `import pyarrow` / `import rich` fail in this process (the libraries fall back without
    them); a module already imported is left alone."""
    for name in UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


if __name__ in {"__main__", "__mp_main__"}:  # `python -m listener`, and its --concurrency workers (spawn)
    keep_out_unused_modules()


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _default(name: str) -> str:
    return variable_and_default(ListenerSettings, name)


def _described(name: str) -> str:
    """A flag's help: what its setting means and its default, both from the setting's field."""
    return f"{ListenerSettings.model_fields[name].description} ({_default(name)})"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m listener",
        description="Claim pending prediction requests, run the model, write the results. "
        "Connects with LISTENER_DATABASE_URL (else DATABASE_URL); reads the LISTENER_* settings "
        "from the environment; flags override them.",
    )
    parser.add_argument(
        "--poll-only",
        action="store_true",
        help="no LISTEN: look for pending rows every --poll-interval seconds "
        "(for poolers in transaction mode; the first design's only mode)",
    )
    parser.add_argument(
        "--poll-interval",
        type=positive_float,
        metavar="S",
        help=f"with --poll-only ({_default('poll_seconds')})",
    )
    parser.add_argument("--concurrency", type=positive_int, metavar="K", help=_described("concurrency"))
    parser.add_argument("--batch-size", type=positive_int, metavar="N", help=_described("batch_size"))
    parser.add_argument(
        "--sweep-interval", type=positive_float, metavar="S", help=_described("sweep_seconds")
    )
    args = parser.parse_args(argv)
    if args.poll_interval is not None and not args.poll_only:
        parser.error("--poll-interval only applies with --poll-only")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        url = get_settings().url_for("listener")
        settings = ListenerSettings()
    except ValidationError as exc:
        print(f"listener: invalid setting in the environment:\n{exc}", file=sys.stderr)
        return 2
    if not url:
        print(
            "listener: DATABASE_URL is not set (nor LISTENER_DATABASE_URL). Point it at the PostgreSQL\n"
            "the API uses, e.g.\n"
            "  DATABASE_URL=postgresql://user@host/dbname python -m listener\n"
            "(`make run` sets it, and starts the embedded PostgreSQL when you have none).",
            file=sys.stderr,
        )
        return 2
    config = ListenerConfig.from_settings(
        settings,
        url,
        poll_only=args.poll_only or None,
        poll_seconds=args.poll_interval,
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        sweep_seconds=args.sweep_interval,
    )
    configure_logging()
    # Imported only now: a wrong flag or a missing DATABASE_URL answers at once, without loading sklearn.
    import psycopg

    from listener.workers import run_workers

    try:
        return run_workers(config)
    except psycopg.errors.UndefinedTable as exc:
        print(f"listener: {exc}\nThe schema is missing: run `python -m sql` first.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
