"""`python -m model_store`: train when artifacts are missing (or --force), register when DATABASE_URL is set.

Also: `train [--force] [--data FILE [--target COLUMN]]`, `evaluate [--json]`, `register`,
`promote NAME [VERSION] [--force --reason TEXT] [--require-live-evidence]`, `list`, `card`,
`shadow NAME [VERSION]`, `unshadow NAME`, `rollback [NAME]`,
`train --from-outcomes [--since T] [--model NAME] [--with-packaged-data] [--shadow]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_store.crossval import OUTER_REPEATS
from model_store.manifest import artifacts_present, read_manifest
from sql.audit import cli_actor
from sql.settings import Settings, get_settings, variable_and_default

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
    train.add_argument(
        "--from-outcomes",
        action="store_true",
        help="fit a candidate on the requests whose true outcome was posted; register it (not deployed)",
    )
    train.add_argument(
        "--since", type=iso_time, default=None, help="--from-outcomes: requests submitted since"
    )
    train.add_argument("--model", default="logistic", help="--from-outcomes: which model to fit (logistic)")
    train.add_argument(
        "--with-packaged-data", action="store_true", help="--from-outcomes: add the packaged data set's rows"
    )
    train.add_argument(
        "--shadow", action="store_true", help="--from-outcomes: run the candidate in the shadow at once"
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
    promote.add_argument(
        "--require-live-evidence",
        action="store_true",
        help="also refuse unless NAME, scored in the shadow, beats the default on enough labelled live "
        "requests (--force does not override this gate)",
    )
    promote.add_argument(
        "--min-labelled",
        type=int,
        default=None,
        help=f"labelled pairs needed ({variable_and_default(Settings, 'performance_min_labels')})",
    )
    promote.add_argument(
        "--alpha", type=float, default=None, help="significance level of the live gate (0.05)"
    )
    promote.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"window of live evidence in days ({variable_and_default(Settings, 'performance_window_days')})",
    )
    shadow = sub.add_parser("shadow", help="score NAME (at VERSION) in the shadow of the default model")
    shadow.add_argument("name")
    shadow.add_argument("version", nargs="?")
    unshadow = sub.add_parser("unshadow", help="stop scoring NAME in the shadow")
    unshadow.add_argument("name")
    rollback = sub.add_parser(
        "rollback", help="undo the last change of the default model (or of NAME's version)"
    )
    rollback.add_argument("name", nargs="?")
    rollback.add_argument("--reason", default=None, help="why, for the audit trail")
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


def cmd_promote(store_dir: Path, args: argparse.Namespace, database_url: str | None) -> int:
    from model_store.promotion import evidence_for
    from model_store.registration import current_default, promote, resolve_version

    name, force, reason = args.name, args.force, args.reason
    url = _require(database_url)
    version = resolve_version(url, name, args.version)
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
    }  # the database adds from_default (model and version) and from/to versions (schema 012)
    if args.require_live_evidence:
        verdict, figures = _live_evidence(url, name, version, args)
        details.update(live_gate=verdict.as_dict(), live_evidence=figures)
        if not verdict.passed:
            print(
                f"model_store: promotion of {name} refused by the live gate: {verdict.reason}",
                file=sys.stderr,
            )
            return REFUSED
        print(f"live gate passed: {verdict.reason}")
    deployed = promote(url, name, version, actor=cli_actor(), details=details)
    print(f"{name} {deployed} is now the default model" + (" (forced past the gate)" if forced else ""))
    return 0


def _live_evidence(url: str, name: str, version: str, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The live gate's verdict on `name` at `version` against the default, and the figures it saw."""
    import psycopg

    from model_store.comparison import DEFAULT_ALPHA, Window, compare, evidence, live_gate

    settings = get_settings()
    window = Window.last_days(args.days or settings.performance_window_days)
    with psycopg.connect(url) as conn:
        figures = compare(conn, name, window, version)
    min_labelled = settings.performance_min_labels if args.min_labelled is None else args.min_labelled
    verdict = live_gate(figures, min_labelled, DEFAULT_ALPHA if args.alpha is None else args.alpha)
    return verdict, evidence(figures)


def cmd_shadow(name: str, version: str | None, database_url: str | None) -> int:
    from model_store.shadows import start_shadow

    started = start_shadow(_require(database_url), name, version)
    print(f"{name} {started} now runs in the shadow of the default model")
    return 0


def cmd_unshadow(name: str, database_url: str | None) -> int:
    from model_store.shadows import stop_shadow

    stopped = stop_shadow(_require(database_url), name)
    if stopped is None:
        print(f"model_store: {name} is not running in the shadow", file=sys.stderr)
        return 1
    print(f"{name} {stopped} no longer runs in the shadow")
    return 0


def cmd_rollback(name: str | None, reason: str | None, database_url: str | None) -> int:
    from model_store.rollback import rollback

    done = rollback(_require(database_url), name, reason=reason)
    what = "the default model" if done.default else done.to_model
    print(
        f"rolled back: {what} is {done.to_model} {done.to_version} again"
        f" (was {done.from_model} {done.from_version})"
    )
    return 0


def iso_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_train_from_outcomes(args: argparse.Namespace, store_dir: Path, database_url: str | None) -> int:
    from model_store.retrain import train_from_outcomes
    from model_store.shadows import start_shadow

    url = _require(database_url)
    done = train_from_outcomes(url, store_dir, args.model, args.since, args.with_packaged_data)
    entry = done.entry
    cv = entry["metrics"]["cv_oof"]
    print(
        f"trained {entry['name']} {entry['version']} on {done.labelled_rows} labelled request(s)"
        + (f" + {done.packaged_rows} packaged row(s)" if done.packaged_rows else "")
        + f"; out-of-fold ROC-AUC {cv['roc_auc']:.3f}, PR-AUC {cv['pr_auc']:.3f}; registered, not deployed"
    )
    if args.shadow:
        start_shadow(url, entry["name"], entry["version"])
        print(f"{entry['name']} {entry['version']} now runs in the shadow of the default model")
    return 0


def cmd_list(database_url: str | None) -> int:
    import psycopg
    from psycopg.rows import dict_row

    from sql.named_queries import QUERIES

    with psycopg.connect(_require(database_url)) as conn, conn.cursor(row_factory=dict_row) as cur:
        for v in cur.execute(QUERIES["list_model_versions"]):
            flags = ("deployed" if v["deployed"] else "") + (" default" if v["is_default"] else "")
            data = (v["training_data_sha256"] or "?")[:12]
            fitted = f"data {data:12} {v['training_rows'] or '?':>6} rows "
            fitted += "reference   " if v["has_reference"] else "no reference"
            print(
                f"{v['model_name']:18} {v['version']:14} {v['sha256'][:12]} sklearn {v['sklearn_version']:7} "
                f"threshold {v['threshold']:.3f} {fitted} {v['created_at']:%Y-%m-%d %H:%M} {flags}"
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

    database = open_database()
    atexit.register(database.release)
    return database.url


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
    if args.command == "train" and args.from_outcomes:
        return cmd_train_from_outcomes(args, store_dir, settings.database_url)
    if args.command == "train" and args.data is not None:
        return cmd_train_data(store_dir, args.data, args.target, args.repeats, settings.database_url)
    if args.command in (None, "train"):
        return cmd_train(store_dir, args.force, settings.database_url)
    if args.command == "evaluate":
        return cmd_evaluate(store_dir, args.json, settings.database_url)
    if args.command == "register":
        return cmd_register(store_dir, settings.database_url)
    if args.command == "promote":
        return cmd_promote(store_dir, args, settings.database_url)
    if args.command == "shadow":
        return cmd_shadow(args.name, args.version, settings.database_url)
    if args.command == "unshadow":
        return cmd_unshadow(args.name, settings.database_url)
    if args.command == "rollback":
        return cmd_rollback(args.name, args.reason, settings.database_url)
    if args.command == "list":
        return cmd_list(settings.database_url)
    return cmd_card(store_dir, args.output)


if __name__ == "__main__":
    sys.exit(main())
