"""Fixtures of the store contract suite: a `store` on SQLite and on PostgreSQL, each test on clean tables.

PostgreSQL isolation: a fresh database per test module (dropped WITH (FORCE) after), emptied per test.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from watchdog.events import DeployEvent
from watchdog.store import Accepted, Store
from watchdog.store.db import normalize_url
from watchdog.store.schema import metadata

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
POLICY: dict[str, Any] = {"verification": {"duration": 600.0, "interval": 30.0}, "on_failure": "rollback"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@contextmanager
def fresh_pg_database(base_url: str = PG_URL) -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards even if connections linger."""
    base = normalize_url(base_url)
    name = f"wd_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """Requested only after `pg_url` said the server is up (see `store`)."""
    with fresh_pg_database() as url:
        store = Store(url)
        store.upgrade()
        store.close()
        yield url


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test: one migration per module, not per test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.close()  # the last connection closing checkpoints the WAL into the file
    return path


def _empty_tables(store: Store) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "watchdog.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        s = Store(f"sqlite:///{path}")
    else:
        request.getfixturevalue("pg_url")  # skips locally, fails in CI, when PostgreSQL is down
        s = Store(request.getfixturevalue("pg_module_url"))
        _empty_tables(s)
    try:
        yield s
    finally:
        s.close()


def make_event(**overrides: Any) -> DeployEvent:
    fields: dict[str, Any] = {"service": "checkout", "environment": "production", "version": "2.4.1"}
    fields.update(overrides)
    return DeployEvent(**fields)


def accept(
    store: Store,
    *,
    now: datetime = T0,
    source: str = "generic",
    delivery_id: str | None = None,
    policy: dict[str, Any] | None = None,
    **event: Any,
) -> Accepted:
    return store.accept_event(
        event=make_event(**event),
        source=source,
        delivery_id=delivery_id,
        policy=POLICY if policy is None else policy,
        now=now,
    )


def count_rows(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
