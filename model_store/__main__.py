"""`python -m model_store`: train when artifacts are missing (or --force), register when DATABASE_URL is set.

Also: `train [--force]`, `register`, `promote NAME [VERSION]`, `list`, `card`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from model_store.manifest import artifacts_present, read_manifest
from sql.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_store", description=__doc__)
    parser.add_argument("--force", action="store_true", help="retrain even when artifacts exist")
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train if artifacts are missing, then register (the default)")
    # SUPPRESS: `--force train` must not be reset to False by the subcommand's default.
    train.add_argument("--force", action="store_true", default=argparse.SUPPRESS, help="retrain anyway")
    sub.add_parser("register", help="register the store's manifest in DATABASE_URL")
    promote = sub.add_parser("promote", help="make NAME the default model, optionally at VERSION")
    promote.add_argument("name")
    promote.add_argument("version", nargs="?")
    sub.add_parser("list", help="list registered versions in DATABASE_URL")
    card = sub.add_parser("card", help="write docs/model-card.md from the manifest")
    card.add_argument("--output", type=Path, default=None)
    return parser


def cmd_train(store_dir: Path, force: bool, database_url: str | None) -> int:
    if force or not artifacts_present(store_dir):
        from model_store.training import train

        started = time.perf_counter()
        manifest = train(store_dir)
        default = manifest["models"][manifest["default_model"]]
        print(
            f"trained {len(manifest['models'])} models into {store_dir} "
            f"in {time.perf_counter() - started:.1f} s; "
            f"default {default['name']} {default['version']}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in default["metrics"]["test"].items())
        )
    else:
        print(f"artifacts present in {store_dir} (use --force to retrain)")
    if database_url:
        return cmd_register(store_dir, database_url)
    print("DATABASE_URL is unset: not registered")
    return 0


def cmd_register(store_dir: Path, database_url: str | None) -> int:
    from model_store.registration import register_manifest

    register_manifest(_require(database_url), store_dir)
    print(f"registered {store_dir / 'manifest.json'}")
    return 0


def cmd_promote(name: str, version: str | None, database_url: str | None) -> int:
    from model_store.registration import promote

    deployed = promote(_require(database_url), name, version)
    print(f"{name} {deployed} is now the default model")
    return 0


def cmd_list(database_url: str | None) -> int:
    import psycopg

    from sql.queries import QUERIES

    with psycopg.connect(_require(database_url)) as conn:
        for name, version, sha, sk, threshold, created, deployed, default in conn.execute(
            QUERIES["list_model_versions"]
        ):
            flags = ("deployed" if deployed else "") + (" default" if default else "")
            print(
                f"{name:18} {version:14} {sha[:12]} sklearn {sk:7} threshold {threshold:.3f} "
                f"{created:%Y-%m-%d %H:%M} {flags}"
            )
    return 0


def cmd_card(store_dir: Path, output: Path | None) -> int:
    from model_store.model_card import CARD_PATH, render_card
    from model_store.split_study import STUDY_FILE

    study_path = store_dir / STUDY_FILE
    study = json.loads(study_path.read_text()) if study_path.is_file() else None
    path = output or CARD_PATH
    path.write_text(render_card(read_manifest(store_dir), study))
    print(f"wrote {path}")
    return 0


def _require(database_url: str | None) -> str:
    """DATABASE_URL, else the embedded cluster (left running if it already was, e.g. under `make run`)."""
    if database_url:
        return database_url
    import atexit

    from sql.embedded import open_database

    url, release = open_database()
    atexit.register(release)
    return url


def main(argv: Sequence[str] | None = None) -> int:
    import psycopg

    from model_store.errors import ModelError

    try:
        return _dispatch(argv)
    except (ModelError, psycopg.Error, FileNotFoundError) as exc:
        missing = isinstance(exc, psycopg.errors.UndefinedTable)
        hint = "\nThe schema is missing: run `python -m sql` first." if missing else ""
        print(f"model_store: {exc}{hint}", file=sys.stderr)
        return 1


def _dispatch(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    store_dir = settings.model_store_dir
    if args.command in (None, "train"):
        return cmd_train(store_dir, args.force, settings.database_url)
    if args.command == "register":
        return cmd_register(store_dir, settings.database_url)
    if args.command == "promote":
        return cmd_promote(args.name, args.version, settings.database_url)
    if args.command == "list":
        return cmd_list(settings.database_url)
    return cmd_card(store_dir, args.output)


if __name__ == "__main__":
    sys.exit(main())
