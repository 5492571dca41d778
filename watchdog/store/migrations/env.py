"""Alembic environment: runs migrations on the connection watchdog.store.migrate hands over.

Offline mode (`--sql`) renders for the URL in the config's `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from watchdog.store import db
from watchdog.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = db.create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with db.write_transaction(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
