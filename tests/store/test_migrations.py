"""Migrations: `upgrade head` yields exactly schema.metadata on SQLite and PostgreSQL; `downgrade` empties.

PostgreSQL runs in a fresh database of its own, dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.store.conftest import fresh_pg_database
from watchdog.store import Store, migrate
from watchdog.store.schema import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'watchdog.db'}"
        return
    request.getfixturevalue("pg_url")
    with fresh_pg_database() as url:
        yield url


def table_names(store: Store) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def test_upgrade_matches_metadata_and_downgrade_drops_everything(empty_url: str) -> None:
    store = Store(empty_url)
    try:
        assert migrate.current(store.engine) is None
        store.upgrade()
        store.upgrade()  # a second upgrade is a no-op
        assert migrate.current(store.engine) == migrate.head()
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        assert table_names(store) == {t.name for t in metadata.sorted_tables} | {"alembic_version"}
        migrate.downgrade(store.engine)
        assert table_names(store) == {"alembic_version"}
        assert migrate.current(store.engine) is None
        store.upgrade()  # and back up again from base
        assert migrate.current(store.engine) == migrate.head()
    finally:
        store.close()
