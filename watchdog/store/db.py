"""Engine creation for the state store: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL via psycopg 3.

Also owns URL normalisation and the password-free description of a URL used in errors and logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import QueuePool

from watchdog.errors import StoreError
from watchdog.redact import REDACTOR

BUSY_TIMEOUT_MS = 5000
# Execution option that asks for `BEGIN IMMEDIATE` on SQLite: a write transaction takes the write lock at
# once, so it waits on busy_timeout instead of failing when it upgrades a read lock halfway through.
WRITE_OPTION = "watchdog_write"

_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
# The async engine calls the store through asyncio.to_thread, whose default pool has up to 32 threads:
# enough connections that those threads do not queue on the pool for long.
POOL = {"pool_size": 10, "max_overflow": 20}


def normalize_url(url: str) -> URL:
    """Parses `url`; every PostgreSQL spelling is rewritten to the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _PG_SCHEMES:
        url = f"postgresql+psycopg://{rest}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        # The URL itself stays out of the message: an unparsable one may still hold a password.
        raise StoreError(
            "invalid database URL: expected sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    if parsed.password:
        REDACTOR.add(str(parsed.password))
    return parsed


def describe(url: str | URL) -> str:
    """The URL with its password masked: the only form of a URL that may reach a message or a log."""
    parsed = url if isinstance(url, URL) else normalize_url(url)
    return parsed.render_as_string(hide_password=True)


def is_sqlite(url: str | URL) -> bool:
    parsed = url if isinstance(url, URL) else normalize_url(url)
    return parsed.get_backend_name() == "sqlite"


def create_engine(url: str) -> Engine:
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        # A bounded connect: an unreachable server turns /readyz to 503 in seconds, not after TCP's minutes.
        return sa_create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5}, **POOL)
    raise StoreError(f"unsupported database {describe(parsed)}: use sqlite:/// or postgresql://")


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    # An in-memory database lives in one connection: a pool of exactly one makes threads take turns on it
    # instead of each seeing its own empty database.
    pool: dict[str, Any] = {"poolclass": QueuePool, "pool_size": 1, "max_overflow": 0} if memory else POOL
    engine = sa_create_engine(url, connect_args=connect_args, pool_pre_ping=not memory, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3's own transaction handling skips BEGIN for SELECT and DDL; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                # Said outright: an answered 202 is on disk (WAL + NORMAL could lose it to a power cut);
                # group commit pays this fsync once per batch, not once per event.
                cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: `BEGIN IMMEDIATE` on SQLite, an ordinary one on PostgreSQL."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One consistent read: several SELECTs see the same snapshot."""
    with engine.connect() as conn, conn.begin():
        yield conn


# PostgreSQL's SQLSTATEs for a transaction it rolled back to break a cycle or a conflict: written again
# as a whole, it may well go through (serialization_failure, deadlock_detected).
_TRANSIENT = {"40001": "serialization failure", "40P01": "deadlock"}


def transient(exc: BaseException | None) -> str | None:
    """The kind of rollback PostgreSQL chose (see _TRANSIENT) behind `exc` or what it wraps, else None."""
    seen = 0
    while exc is not None and seen < 8:  # a wrapped chain is short; the bound guards a cycle
        kind = _TRANSIENT.get(str(getattr(getattr(exc, "orig", exc), "sqlstate", "")))
        if kind is not None:
            return kind
        exc, seen = exc.__cause__, seen + 1
    return None
