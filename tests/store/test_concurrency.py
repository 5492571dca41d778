"""Two workers claiming the same due rows at once never both get one (SKIP LOCKED on PostgreSQL).

Also run on SQLite, where BEGIN IMMEDIATE makes the claim a single writer's transaction; a claim that finds
nothing takes no write lock at all.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.store.conftest import accept, at
from watchdog.store import Store
from watchdog.store.db import BUSY_TIMEOUT_MS


def test_two_threads_never_claim_the_same_row(store: Store) -> None:
    due = {accept(store, service=f"svc-{i}", now=at(0)).verification.id for i in range(20)}
    barrier = threading.Barrier(2)

    def worker(owner: str) -> list[str]:
        barrier.wait()
        got: list[str] = []
        # Small batches, so the two claims interleave many times instead of one taking everything.
        while batch := store.claim_due(owner=owner, now=at(1), lease_s=60, limit=3):
            for v in batch:
                got.append(v.id)
                # Taking the step moves the next sample out of reach, as the engine does.
                assert store.record_step(
                    verification_id=v.id,
                    owner=owner,
                    epoch=v.lease_epoch,
                    now=at(1),
                    samples=[],
                    next_k=2,
                    next_sample_at=at(1000),
                )
        return got

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(worker, ["replica-a", "replica-b"])
    assert not set(first) & set(second)
    assert len(first) == len(set(first)) and len(second) == len(set(second))
    assert set(first) | set(second) == due
    owners = {v.id: v.lease_owner for v in map(store.get_verification, due)}
    assert all(owners[i] == "replica-a" for i in first) and all(owners[i] == "replica-b" for i in second)


def test_an_empty_outbox_claim_needs_no_write_lock(tmp_path: Path, sqlite_template: Path) -> None:
    """The outbox claim runs every tick: finding nothing due, it never queues for SQLite's write lock.

    Another connection holds the lock (as the engine's batched step writes do under load) while the claim
    runs: it answers "nothing" at once instead of waiting out the busy timeout and failing as locked.
    """
    path = tmp_path / "watchdog.db"
    shutil.copy(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert store.claim_actions(owner="a", now=at(0), lease_s=30, limit=10) == []
        holder.execute("ROLLBACK")
    finally:
        holder.close()
        store.close()


def test_a_background_write_outwaits_a_lock_held_past_the_busy_timeout(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """The outbox's and the lease renewals' writes wait for the lock longer than a request's 5 s would."""
    path = tmp_path / "watchdog.db"
    shutil.copy(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    # Let go a while after the 5 s a request's write would wait (timing is the setup, not the assertion).
    release = threading.Timer((BUSY_TIMEOUT_MS + 1500) / 1000, holder.execute, args=("ROLLBACK",))
    release.start()
    try:
        assert store.renew_actions(owner="a", now=at(0), lease_s=30) == 0
        assert store.renew_leases(owner="a", now=at(0), lease_s=30) == 0
    finally:
        release.join()
        holder.close()
        store.close()


def test_a_claim_reads_the_due_range_not_every_running_verification(tmp_path: Path) -> None:
    """SQLite's plan for claim_due walks the due index (what is due, in order), not every sampling row."""
    store = Store(f"sqlite:///{tmp_path / 'plan.db'}")
    store.upgrade()
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().startswith("SELECT verifications.id") and "LIMIT" in statement:
            seen.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        accept(store, now=at(0))
        assert len(store.claim_due(owner="a", now=at(1), lease_s=30, limit=5, exclude=["x"])) == 1
        [(statement, params)] = seen
        with store.engine.connect() as conn:
            plan = " ".join(
                str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
        store.close()
    assert "ix_verifications_due" in plan and "ix_verifications_state" not in plan, plan
