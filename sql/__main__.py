"""`python -m sql`: apply the schema files to DATABASE_URL (or the embedded PostgreSQL).

`python -m sql erase --subject-ref REF` erases one subject's requests and everything derived from them.
`python -m sql retention [--older-than DAYS] [--archive DIR]`: partition maintenance and retention.
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from sql.embedded import open_database
from sql.migrate import SchemaDrift, migrate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sql", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("migrate", help="apply the schema files (the default)")
    erase = commands.add_parser(
        "erase",
        help="erase one subject: its requests, results, outcomes, explanations, in one transaction",
        description="Delete every request with this subject_ref and every row derived from them, in one "
        "transaction; print the counts; append one data.erased audit event (counts, never the reference).",
    )
    erase.add_argument("--subject-ref", required=True, metavar="REF", help="the client's subject reference")
    erase.add_argument("--dry-run", action="store_true", help="count what would go, erase nothing")
    # Listed here; its own parser (sql/retention.py) reads its options.
    commands.add_parser(
        "retention",
        add_help=False,
        help="open partition epochs; remove expired requests by whole partitions (--older-than, --archive)",
    )
    return parser.parse_args(argv)


def cmd_migrate(url: str) -> int:
    try:
        applied = migrate(url)
    except SchemaDrift as exc:
        print(f"refusing to migrate: {exc}", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


def cmd_erase(url: str, subject_ref: str, dry_run: bool) -> int:
    from sql.audit import cli_actor
    from sql.erase import erase

    try:
        done = erase(url, subject_ref, actor=cli_actor(), dry_run=dry_run)
    except ValueError as exc:
        print(f"erase: {exc}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:  # e.g. not migrated, or a role that may not erase
        print(f"erase: nothing erased: {exc}".rstrip(), file=sys.stderr)
        return 1
    print(done.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["retention"]:
        from sql.retention import main as retention

        with open_database() as url:
            return retention(argv[1:], url)
    args = parse_args(argv)
    with open_database() as url:
        if args.command == "erase":
            return cmd_erase(url, args.subject_ref, args.dry_run)
        return cmd_migrate(url)


if __name__ == "__main__":
    raise SystemExit(main())
