"""`watchdog db upgrade [REV] | downgrade REV | current`: schema migrations of the state store.

The URL comes from settings (WATCHDOG_DATABASE_URL, default SQLite under data_dir); `--url` overrides.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from watchdog.errors import StoreError
from watchdog.redact import redact
from watchdog.settings import load_settings
from watchdog.store import db


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser("db", help="migrate the state store's schema")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = actions.add_parser("upgrade", help="migrate to the newest schema")
    up.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    down = actions.add_parser("downgrade", help="migrate down to REVISION (`base` drops every table)")
    # No default: dropping every table must be asked for by name, never be what a bare command does.
    down.add_argument("revision", help="target revision, e.g. 0001 or -1; `base` drops every table")
    current = actions.add_parser("current", help="print the schema revision of the database")
    for action in (up, down, current):
        action.add_argument("--url", help="database URL (default: settings, WATCHDOG_DATABASE_URL)")
        action.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Alembic loads here, not at import: every command's module is imported to build the parser, and an
    # engine worker of `serve` would otherwise carry alembic's 10 MB for nothing.
    from alembic.util import CommandError

    from watchdog.store import migrate

    url: str = args.url or load_settings().resolved_database_url
    try:
        engine = db.create_engine(url)
        try:
            if args.db_command == "upgrade":
                migrate.upgrade(engine, args.revision)
            elif args.db_command == "downgrade":
                migrate.downgrade(engine, args.revision)
            revision = migrate.current(engine)
        finally:
            engine.dispose()
    except (SQLAlchemyError, StoreError, CommandError) as exc:
        # Driver messages may quote connection details; only the redacted form is printed.
        print(f"watchdog db {args.db_command}: {redact(str(exc))}", file=sys.stderr)
        return 1
    print(f"{db.describe(url)}: {revision or 'base (empty)'}")
    return 0
