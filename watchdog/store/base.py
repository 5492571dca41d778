"""The part of `Store` every repository mixin shares: the engine, transactions, lifecycle and lookups.

Mixins build on it: read, delivery, intake, lease, engine, history, rollback and admin (`*_repo.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    Select,
    Table,
    and_,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from watchdog.errors import NotFound
from watchdog.redact import redact
from watchdog.store import db
from watchdog.store.health import StoreHealth, StoreUnavailable
from watchdog.store.schema import deployments

R = TypeVar("R")
# How long a background write (the outbox, lease renewals) waits for SQLite's write lock. Behind a burst of
# the engine's step batches the connection's 5 s ran out and the job failed "database is locked"; such a
# write is no one's request waiting for an answer, so it waits its turn instead.
PATIENT_BUSY_MS = 30_000


def new_id() -> str:
    return uuid.uuid4().hex


class StoreBase:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine = db.create_engine(url)
        self._postgres = self._engine.dialect.name == "postgresql"
        self.health = StoreHealth(self._engine)

    @property
    def engine(self) -> Engine:
        return self._engine

    def __repr__(self) -> str:
        return f"Store({db.describe(self.url)!r})"

    def upgrade(self) -> bool:
        """Alembic `upgrade head` on this store's database; True when it held no schema at all before."""
        from watchdog.store import migrate  # alembic loads only when a migration is asked for

        empty = migrate.current(self._engine) is None
        migrate.upgrade(self._engine)
        return empty

    def ping(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self, *, patient: bool = False) -> Iterator[Connection]:
        """One write transaction; `patient`: a background write, which waits longer for SQLite's lock."""
        # Checked before and again just before COMMIT: a write the store cannot keep is refused, never
        # answered as if it were durable (a deleted SQLite file still takes writes, into the void).
        self.health.check_writable()
        try:
            slow = patient and not self._postgres
            with self._patient_write() if slow else db.write_transaction(self._engine) as conn:
                yield conn
                self.health.check_writable()
        except (OperationalError, InterfaceError) as exc:
            # Unreachable, locked past busy_timeout, or read-only underneath us: a 503, not a 500.
            problem = redact(f"the state store refused a write ({type(exc).__name__}: {str(exc.orig)[:200]})")
            raise StoreUnavailable(problem) from exc

    @contextmanager
    def _patient_write(self) -> Iterator[Connection]:
        """db.write_transaction with PATIENT_BUSY_MS on its connection (set back before it is pooled)."""
        with self._engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            raw.execute(f"PRAGMA busy_timeout={PATIENT_BUSY_MS}")
            try:
                conn.execution_options(**{db.WRITE_OPTION: True})
                with conn.begin():
                    yield conn
            finally:
                raw.execute(f"PRAGMA busy_timeout={db.BUSY_TIMEOUT_MS}")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with db.read_transaction(self._engine) as conn:
                yield conn
        except (OperationalError, InterfaceError) as exc:
            problem = redact(f"the state store does not answer ({type(exc).__name__}: {str(exc.orig)[:200]})")
            raise StoreUnavailable(problem) from exc

    def _reading(self, query: Callable[[Connection, str], R], key: str) -> R:
        """`query(conn, key)` in a read transaction of its own: a public read over its in-transaction form."""
        with self._read() as conn:
            return query(conn, key)

    def _lock(self, stmt: Select[Any]) -> Select[Any]:
        """`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already holds the only write lock."""
        return stmt.with_for_update() if self._postgres else stmt

    def _claim(
        self,
        table: Table,
        *,
        where: Sequence[ColumnElement[bool]],
        order: Sequence[ColumnElement[Any]],
        limit: int,
        values: dict[str, Any],
        build: Callable[[RowMapping], R],
        peek: bool = False,
        patient: bool = False,
    ) -> list[R]:
        """Claims up to `limit` rows (oldest by `order` first): one UPDATE of `values`, the rows read back.

        `peek`: look in a read transaction first and take the write lock only when something is there (a
        periodic claim that mostly finds nothing must not queue behind, nor stall, the engine's writes).
        """
        if peek:
            with self._read() as conn:
                if conn.execute(select(table.c.id).where(*where).limit(1)).first() is None:
                    return []
        due = select(table.c.id).where(*where).order_by(*order).limit(limit)
        if self._postgres:
            # Rows another replica is claiming right now are skipped, not waited for (reliability.md B3).
            due = due.with_for_update(skip_locked=True)
        with self._write(patient=patient) as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            conn.execute(update(table).where(table.c.id.in_(ids)).values(**values))
            return self._all(conn, select(table).where(table.c.id.in_(ids)).order_by(*order), build)

    def _require_deployment(self, conn: Connection, deployment_id: str, *, lock: bool = False) -> None:
        """NotFound unless the deployment exists; `lock` holds its row till COMMIT (FOR UPDATE on PG)."""
        stmt = select(deployments.c.id).where(deployments.c.id == deployment_id)
        if conn.execute(self._lock(stmt) if lock else stmt).first() is None:
            raise NotFound(f"no deployment {deployment_id!r}")

    @staticmethod
    def _one(conn: Connection, stmt: Select[Any], build: Callable[[RowMapping], R], what: str) -> R:
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound(what)
        return build(row)

    @staticmethod
    def _first(conn: Connection, stmt: Select[Any], build: Callable[[RowMapping], R]) -> R | None:
        row = conn.execute(stmt).mappings().first()
        return None if row is None else build(row)

    @staticmethod
    def _all(conn: Connection, stmt: Select[Any], build: Callable[[RowMapping], R]) -> list[R]:
        return [build(row) for row in conn.execute(stmt).mappings()]

    @staticmethod
    def _upsert(
        conn: Connection,
        table: Table,
        *,
        key: dict[str, Any],
        values: dict[str, Any],
        insert_only: dict[str, Any] | None = None,
    ) -> None:
        """Update, else insert; the unique key decides a race: the loser's insert fails and it updates."""
        where = and_(*(table.c[name] == value for name, value in key.items()))
        if conn.execute(update(table).where(where).values(**values)).rowcount:
            return
        try:
            # A savepoint, so the failed insert does not abort the caller's whole transaction.
            with conn.begin_nested():
                conn.execute(insert(table).values(**key, **values, **(insert_only or {})))
        except IntegrityError:
            conn.execute(update(table).where(where).values(**values))
