"""Is the state store still where our writes become durable? A cheap probe for /readyz and every write.

SQLite: the file we opened still exists, is the same file (inode) and is writable; any store: SELECT 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from watchdog.errors import StoreError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


class StoreUnavailable(StoreError):
    """A write refused before it started: the store cannot keep it. The API answers 503 + Retry-After."""

    def __init__(self, problem: str, *, retry_after: int = RETRY_AFTER_S) -> None:
        self.problem = problem
        self.retry_after = retry_after
        super().__init__(problem)


class StoreHealth:
    """Holds the last probe's finding; `probe()` refreshes it, `check_writable()` guards each write.

    A deleted SQLite file is the dangerous case: open connections keep writing to the unlinked inode and
    every write "succeeds" until the next restart, when all of it is gone. So the file is compared with the
    one the first connection opened, by device and inode, not only by name.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = Path(database).expanduser().resolve() if database not in (None, "", ":memory:") else None
        self._identity: tuple[int, int] | None = None
        self.problem: str | None = None
        self.checked_at: float | None = None  # time.monotonic() of the last probe
        if self._path is not None:
            event.listen(engine, "connect", self._on_connect)

    def _on_connect(self, _dbapi_connection: Any, _record: Any) -> None:
        # The first connection creates or opens the file: that inode is "our" database from now on.
        if self._identity is None and self._path is not None:
            with_stat = _stat(self._path)
            if with_stat is not None:
                self._identity = (with_stat.st_dev, with_stat.st_ino)

    def file_problem(self) -> str | None:
        """One stat(): what is wrong with the SQLite file, or None (always None for PostgreSQL)."""
        if self._path is None or self._identity is None:
            return None  # not SQLite, or not opened yet: nothing to compare with
        st = _stat(self._path)
        if st is None:
            return f"the SQLite file {self._path} was deleted: writes would be lost at the next restart"
        if (st.st_dev, st.st_ino) != self._identity:
            return f"the SQLite file {self._path} was replaced by another file since the daemon opened it"
        # The mode bits too, not only access(): a root process may write a file an operator made read-only.
        if not st.st_mode & stat.S_IWUSR or not os.access(self._path, os.W_OK):
            return f"the SQLite file {self._path} is read-only"
        if not os.access(self._path.parent, os.W_OK):
            return f"the directory of the SQLite file {self._path} is read-only"
        return None

    def _query_problem(self) -> str | None:
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return f"the state store does not answer ({type(exc).__name__})"
        return None

    def probe(self) -> str | None:
        """Refreshes the finding: the file first (no connection needed), then one round trip."""
        before = self.problem
        self.problem = self.file_problem() or self._query_problem()
        self.checked_at = time.monotonic()
        if self.problem != before:
            if self.problem is None:
                log.warning("the state store is healthy again")
            else:
                log.error("the state store is not usable: %s", self.problem)
        return self.problem

    def current(self, *, max_age: float) -> str | None:
        """The file checked now (one stat); the round trip's finding while younger than `max_age` seconds."""
        if self.checked_at is None or time.monotonic() - self.checked_at > max_age:
            return self.probe()
        return self.file_problem() or self.problem

    def check_writable(self) -> None:
        """Refuses a write when the last probe found a problem or the SQLite file is not ours any more."""
        problem = self.file_problem()
        if problem is None and self.problem is not None:
            # The last probe saw a failure: look again (at most once a second) whether it has passed.
            problem = self.current(max_age=1.0)
        if problem is not None:
            self.problem = problem
            raise StoreUnavailable(problem)

    async def run(self, *, interval: float) -> None:
        """Probes every `interval` seconds until cancelled (the daemon runs this beside its engine)."""
        while True:
            try:
                await asyncio.to_thread(self.probe)
            except Exception:  # never let the probe die: readiness depends on it
                log.exception("store health probe failed")
            await asyncio.sleep(interval)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None
