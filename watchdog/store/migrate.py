"""Schema migrations without an alembic.ini: upgrade, downgrade and the current revision of one database.

Alembic is configured in code and handed our own engine's connection, so SQLite gets the same pragmas.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from watchdog.store import db

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: replicas starting together take turns instead of racing to CREATE TABLE.
_PG_LOCK_KEY = 0x77617463686467  # "watchdg"


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None, "the migrations folder has no revisions"
    return revision


def upgrade(engine: Engine, revision: str = "head") -> None:
    with db.write_transaction(engine) as conn:
        _serialize(conn)
        command.upgrade(config(conn), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with db.write_transaction(engine) as conn:
        _serialize(conn)
        command.downgrade(config(conn), revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _serialize(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
