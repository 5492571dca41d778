"""Engine creation: URL spellings, SQLite pragmas and threads, and URLs that never leak their password.

The PostgreSQL cases connect to the real server on 127.0.0.1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.store.conftest import accept, at
from watchdog.errors import StoreError
from watchdog.redact import redact
from watchdog.store import Store
from watchdog.store.db import create_engine, describe, normalize_url


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_every_postgres_spelling_uses_psycopg3(scheme: str) -> None:
    url = normalize_url(f"{scheme}://wd:pw-Secret-91@db.example:5432/watchdog")
    assert (url.drivername, url.host, url.database) == ("postgresql+psycopg", "db.example", "watchdog")


def test_password_is_masked_in_descriptions_and_logs() -> None:
    url = "postgresql://wd:pw-Secret-92@db.example/watchdog"
    assert "pw-Secret-92" not in describe(url)
    store = Store(url)  # connects lazily, so no server is needed
    assert "pw-Secret-92" not in repr(store)
    store.close()
    assert redact(f"failed: {url}") == "failed: postgresql://wd:***@db.example/watchdog"


def test_bad_urls_raise_store_error_without_the_password() -> None:
    with pytest.raises(StoreError) as bad:
        create_engine("not a url :pw-Secret-93@")
    assert "pw-Secret-93" not in str(bad.value)
    with pytest.raises(StoreError, match="unsupported database"):
        create_engine("mysql://u:pw-Secret-94@127.0.0.1/x")


def test_sqlite_file_gets_its_directory_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "watchdog.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragma == {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1}
        assert path.exists()
    finally:
        engine.dispose()


def test_sqlite_store_is_usable_from_many_threads(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'watchdog.db'}")
    try:
        store.upgrade()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: accept(store, service=f"s{i}", now=at(i)), range(32)))
        page, _ = store.list_deployments(limit=100)
        assert len(page) == 32 == len({r.deployment.id for r in results})
    finally:
        store.close()


def test_in_memory_sqlite_is_shared_between_threads() -> None:
    store = Store("sqlite://")
    try:
        store.upgrade()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda i: accept(store, service=f"s{i}"), range(4)))
        assert len(store.list_deployments()[0]) == 4
    finally:
        store.close()


def test_ping(tmp_path: Path, pg_url: str) -> None:
    sqlite = Store(f"sqlite:///{tmp_path / 'x.db'}")
    missing = Store(str(normalize_url(PG_URL).set(database="wd_does_not_exist").render_as_string(False)))
    try:
        assert sqlite.ping()
        assert not missing.ping()
    finally:
        sqlite.close()
        missing.close()


def test_postgres_engine_pre_pings(pg_url: str) -> None:
    engine = create_engine(pg_url.replace("postgresql+psycopg://", "postgres://"))
    try:
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
