"""An owner's lease renewal and its step batch, on two connections, never deadlock on PostgreSQL.

A batch that PostgreSQL does pick as a deadlock's victim is written again as a whole: no step lost. An
intake batch takes its services' live rows in the same id order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.conftest import POLICY, _empty_tables, accept, at, count_rows, make_event
from watchdog.store import Accepted, Store
from watchdog.store.db import normalize_url
from watchdog.store.engine_repo import Step
from watchdog.store.records import SampleRow

pytestmark = pytest.mark.postgres
OWNER = "worker-a"


@pytest.fixture
def pg_store(pg_url: str, pg_module_url: str) -> Iterator[Store]:
    store = Store(pg_module_url)
    _empty_tables(store)
    try:
        yield store
    finally:
        store.close()


def _claimed(store: Store, n: int) -> dict[str, int]:
    """`n` due verifications leased to OWNER: id -> lease epoch."""
    for i in range(n):
        accept(store, service=f"svc-{i}", now=at(0))
    claimed = store.claim_due(owner=OWNER, now=at(1), lease_s=600, limit=n)
    assert len(claimed) == n
    return {v.id: v.lease_epoch for v in claimed}


def _steps(epochs: dict[str, int], k: int, order: list[str]) -> list[Step]:
    return [
        Step(
            verification_id=vid,
            owner=OWNER,
            epoch=epochs[vid],
            now=at(k),
            samples=[
                SampleRow(vid, "http", k, float(k), at(k), "pass", "ok", 0.01, warmup=False, measurement={})
            ],
            next_k=k + 1,
            next_sample_at=at(1000),
        )
        for vid in order
    ]


def test_renewal_and_step_batches_of_one_owner_do_not_deadlock(
    pg_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    epochs = _claimed(pg_store, 60)
    # The batches take their rows from the highest id down, the opposite of the renewal's order: before
    # the fix, the renewal's UPDATE (scan order) and a batch each held a row the other wanted.
    backwards = sorted(epochs, reverse=True)
    renewer = Store(pg_store.url)  # another connection pool: the heartbeat's connection, not the writer's
    rounds = 25
    barrier = threading.Barrier(2)

    def renew() -> list[int]:
        barrier.wait()
        return [renewer.renew_leases(owner=OWNER, now=at(2), lease_s=600) for _ in range(rounds * 2)]

    def write() -> list[bool | Exception]:
        barrier.wait()
        results: list[bool | Exception] = []
        for k in range(2, 2 + rounds):
            results += pg_store.record_steps(_steps(epochs, k, backwards))
        return results

    try:
        with caplog.at_level(logging.WARNING), ThreadPoolExecutor(2) as pool:
            renewed, written = pool.submit(renew), pool.submit(write)
            renewals, results = renewed.result(), written.result()
    finally:
        renewer.close()
    assert renewals == [60] * (rounds * 2)
    assert results == [True] * (60 * rounds)
    assert count_rows(pg_store, "samples") == 60 * rounds
    assert "written again" not in caplog.text  # the lock order avoided it; the retry was not needed


def _waiting_on_a_lock(conn: sa.Connection, but: int) -> bool:
    """A session of this test's database (pg_locks spans the server's, other tests' too) waits on a lock."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE NOT l.granted AND l.pid <> :pid AND a.datname = current_database()"
    )
    while not conn.execute(query, {"pid": but}).scalar_one():
        conn.rollback()  # a fresh snapshot of pg_locks each time
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("cycles", [1, 2])
def test_a_batch_chosen_as_a_deadlock_victim_is_written_again_whole(
    pg_store: Store, caplog: pytest.LogCaptureFixture, cycles: int
) -> None:
    epochs = _claimed(pg_store, 3)
    first, *_, last = sorted(epochs)
    # The batch's own connections check for a deadlock after 3 s, the intruder's only after 60 s: when
    # the cycle forms, the batch is the one PostgreSQL rolls back.
    url = normalize_url(pg_store.url).update_query_dict({"options": "-c deadlock_timeout=3s"})
    writer = Store(url.render_as_string(hide_password=False))
    intruder = sa.create_engine(normalize_url(pg_store.url))
    lock = sa.text("SELECT id FROM verifications WHERE id = :id FOR UPDATE")
    try:
        with (
            caplog.at_level(logging.WARNING),
            intruder.connect() as conn,
            intruder.connect() as watcher,
            ThreadPoolExecutor(1) as pool,
        ):
            conn.exec_driver_sql("SET deadlock_timeout = '60s'")
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            conn.execute(lock, {"id": last})  # held: the batch's id-ordered lock stops at it
            results = pool.submit(writer.record_steps, _steps(epochs, 2, sorted(epochs)))
            for cycle in range(cycles):
                assert _waiting_on_a_lock(watcher, but=pid)
                # The batch holds `first`: a cycle, and the batch is rolled back. Taken in a savepoint, so
                # it can be let go again for the retry to take, and the cycle formed once more.
                savepoint = conn.begin_nested()
                conn.execute(lock, {"id": first})
                if cycle < cycles - 1:
                    savepoint.rollback()
            conn.commit()
            answers: list[Any] = results.result()
    finally:
        writer.close()
        intruder.dispose()
    assert answers == [True, True, True]
    assert caplog.text.count("deadlock; written again") == cycles
    assert f"written again (try {cycles + 1})" in caplog.text
    assert count_rows(pg_store, "samples") == 3


def test_an_intake_batch_locks_its_services_live_rows_in_id_order(pg_store: Store) -> None:
    """A batch naming two services waits for the lower id first, holding nothing another writer wants."""
    live = {name: accept(pg_store, service=name, now=at(0)).verification.id for name in ("svc-a", "svc-b")}
    low, high = sorted(live.values())
    # Events in the order of the higher id's service first: locked event by event, the batch would hold
    # `high` while it waited for `low`.
    order = sorted(live, key=lambda name: live[name], reverse=True)
    batch: list[Any] = [
        {
            "event": make_event(service=name, version="2.0.0"),
            "source": "generic",
            "delivery_id": f"d-{name}",
            "policy": POLICY,
            "now": at(5),
        }
        for name in order
    ]
    intruder = sa.create_engine(normalize_url(pg_store.url))
    lock = sa.text("SELECT id FROM verifications WHERE id = :id FOR UPDATE")
    try:
        with intruder.connect() as conn, intruder.connect() as watcher, ThreadPoolExecutor(1) as pool:
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            conn.execute(lock, {"id": low})  # another writer, in id order, holds the lower row
            results = pool.submit(pg_store.accept_events, batch)
            assert _waiting_on_a_lock(watcher, but=pid)
            # NOWAIT: had the batch taken `high` before waiting, this would fail at once (and, waiting,
            # would close a deadlock cycle).
            conn.execute(
                sa.text("SELECT id FROM verifications WHERE id = :id FOR UPDATE NOWAIT"), {"id": high}
            )
            conn.commit()
            answers = results.result()
    finally:
        intruder.dispose()
    assert all(isinstance(a, Accepted) and not a.duplicate for a in answers), answers
    assert sorted(s for a in answers if isinstance(a, Accepted) for s in a.superseded) == sorted(
        pg_store.get_verification(v).deployment_id for v in live.values()
    )
