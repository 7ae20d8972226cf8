"""`python -m sql`: apply the schema files to DATABASE_URL (or the embedded PostgreSQL)."""

from __future__ import annotations

import sys

from sql.migrate import SchemaDrift, migrate
from sql.settings import get_settings


def main() -> int:
    settings = get_settings()
    url = settings.database_url
    embedded = None
    if url is None:
        from sql.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(settings.embedded_pg_dir)
        url = embedded.url()
    try:
        applied = migrate(url)
    except SchemaDrift as exc:
        print(f"refusing to migrate: {exc}", file=sys.stderr)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
