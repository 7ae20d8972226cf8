"""`python -m model_store`: train when artifacts are missing (or --force), register when DATABASE_URL is set.

Also: `train [--force] [--data FILE [--target COLUMN]]`, `evaluate [--json]`, `register`,
`promote NAME [VERSION] [--force --reason TEXT]`, `list`, `card`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from model_store.crossval import OUTER_REPEATS
from model_store.manifest import artifacts_present, read_manifest
from sql.settings import get_settings

REFUSED = 2  # exit status of a promotion the gate refuses


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_store", description=__doc__)
    parser.add_argument("--force", action="store_true", help="retrain even when artifacts exist")
    sub = parser.add_subparsers(dest="command")
    train = sub.add_parser("train", help="train if artifacts are missing, then register (the default)")
    # SUPPRESS: `--force train` must not be reset to False by the subcommand's default.
    train.add_argument("--force", action="store_true", default=argparse.SUPPRESS, help="retrain anyway")
    train.add_argument("--data", type=Path, help="train on this CSV or Parquet file of your own employees")
    train.add_argument("--target", default="attrition", help="the 0/1 (Yes/No) column of --data")
    train.add_argument(
        "--repeats", type=int, default=OUTER_REPEATS, help="CV repeats for --data (fewer: wider intervals)"
    )
    evaluate = sub.add_parser(
        "evaluate", help="the leaderboard and each candidate's verdict against the default"
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    sub.add_parser("register", help="register the store's manifest in DATABASE_URL")
    promote = sub.add_parser("promote", help="make NAME the default model, optionally at VERSION")
    promote.add_argument("name")
    promote.add_argument("version", nargs="?")
    promote.add_argument("--force", action="store_true", help="promote even when the gate refuses")
    promote.add_argument("--reason", default=None, help="why (recorded with the promotion)")
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
        cv = default["metrics"]["cv"]
        print(
            f"trained {len(manifest['models'])} models into {store_dir} "
            f"in {time.perf_counter() - started:.1f} s; "
            f"default {default['name']} {default['version']}, "
            f"{manifest['protocol']['folds']}-fold repeated CV: "
            + ", ".join(f"{k} {cv[k]['mean']:.3f} [{cv[k]['low']:.3f}, {cv[k]['high']:.3f}]" for k in cv)
        )
    else:
        print(f"artifacts present in {store_dir} (use --force to retrain)")
    _say_if_beaten(store_dir, database_url)
    if database_url:
        return cmd_register(store_dir, database_url)
    print("DATABASE_URL is unset: not registered")
    return 0


def _say_if_beaten(store_dir: Path, database_url: str | None) -> None:
    """`make train` says when a served candidate beats the default under the gate, with the command."""
    from model_store.leaderboard import advice, report

    manifest = read_manifest(store_dir)
    if "candidates" not in manifest:
        return
    incumbent = _incumbent(manifest, database_url, quiet=True)
    if incumbent in manifest["candidates"]:
        line = advice(report(manifest, incumbent))
        if line:
            print(line + " (see `python -m model_store evaluate`)")


def cmd_train_data(store_dir: Path, path: Path, target: str, repeats: int, database_url: str | None) -> int:
    """Train on the user's file: new versions beside the current ones; the default is left alone."""
    from model_store.leaderboard import render, report
    from model_store.training import train
    from model_store.user_data import load_user_data

    data = load_user_data(path, target)
    print(f"{path}: {len(data.y)} rows, {int(data.y.sum())} positives, sha256 {data.sha256}")
    manifest_name = f"manifest-{data.sha256[:12]}.json"
    manifest = train(store_dir, data=data, repeats=repeats, manifest_name=manifest_name)
    print(f"wrote {store_dir / manifest_name}")
    print(render(report(manifest, manifest["default_model"])), end="")
    if not database_url:
        print("DATABASE_URL is unset: not registered")
        return 0
    from model_store.registration import register_versions

    register_versions(database_url, manifest)
    for entry in manifest["models"].values():
        print(
            f"registered {entry['name']} {entry['version']} (not deployed: "
            f"python -m model_store promote {entry['name']} {entry['version']})"
        )
    return 0


def cmd_register(store_dir: Path, database_url: str | None) -> int:
    from model_store.registration import register_manifest

    register_manifest(_require(database_url), store_dir)
    print(f"registered {store_dir / 'manifest.json'}")
    return 0


def cmd_evaluate(store_dir: Path, as_json: bool, database_url: str | None) -> int:
    from model_store.leaderboard import render, report

    manifest = read_manifest(store_dir)
    r = report(manifest, _incumbent(manifest, database_url))
    print(json.dumps(r, indent=2) if as_json else render(r), end="\n" if as_json else "")
    return 0


def _incumbent(manifest: dict, database_url: str | None, quiet: bool = False) -> str:
    """The current default: the database's when DATABASE_URL is set, else the manifest's."""
    if database_url:
        import psycopg

        from model_store.registration import current_default

        try:
            current = current_default(database_url)
        except psycopg.Error:
            if not quiet:
                raise
            current = None
        if current is not None:
            return current[0]
    return str(manifest["default_model"])


def cmd_promote(
    store_dir: Path, name: str, version: str | None, force: bool, reason: str | None, database_url: str | None
) -> int:
    from model_store.promotion import evidence_for
    from model_store.registration import current_default, promote, resolve_version

    url = _require(database_url)
    version = resolve_version(url, name, version)
    current = current_default(url)
    evidence = evidence_for(store_dir, name, version, current[0] if current else None)
    print(evidence["summary"])
    if not evidence["allowed"] and not force:
        print(
            f"model_store: refused: the gate does not accept {name} {version} "
            "(use --force --reason '…' to promote it anyway; the override is recorded)",
            file=sys.stderr,
        )
        return REFUSED
    forced = not evidence["allowed"]
    details = {
        "reason": reason or ("forced past the gate" if forced else evidence["reason"]),
        "evidence": evidence["evidence"],
        "forced": forced,
        "from_default": current[0] if current else None,
    }
    deployed = promote(url, name, version, actor=f"cli:{getpass.getuser()}", details=details)
    print(f"{name} {deployed} is now the default model" + (" (forced past the gate)" if forced else ""))
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

    path = output or CARD_PATH
    path.write_text(render_card(read_manifest(store_dir)))
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
    if args.command == "train" and args.data is not None:
        return cmd_train_data(store_dir, args.data, args.target, args.repeats, settings.database_url)
    if args.command in (None, "train"):
        return cmd_train(store_dir, args.force, settings.database_url)
    if args.command == "evaluate":
        return cmd_evaluate(store_dir, args.json, settings.database_url)
    if args.command == "register":
        return cmd_register(store_dir, settings.database_url)
    if args.command == "promote":
        return cmd_promote(store_dir, args.name, args.version, args.force, args.reason, settings.database_url)
    if args.command == "list":
        return cmd_list(settings.database_url)
    return cmd_card(store_dir, args.output)


if __name__ == "__main__":
    sys.exit(main())
