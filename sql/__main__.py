"""`python -m sql`: apply the schema files to DATABASE_URL (or the embedded PostgreSQL).

`python -m sql retention [--older-than DAYS] [--archive DIR]`: partition maintenance and retention.
"""

from __future__ import annotations

import sys

from sql.embedded import database_url
from sql.migrate import SchemaDrift, migrate


def main() -> int:
    if sys.argv[1:2] == ["retention"]:
        from sql.retention import main as retention

        with database_url() as url:
            return retention(sys.argv[2:], url)
    with database_url() as url:
        try:
            applied = migrate(url)
        except SchemaDrift as exc:
            print(f"refusing to migrate: {exc}", file=sys.stderr)
            return 1
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
