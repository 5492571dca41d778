"""Two workers claiming the same due rows at once never both get one (SKIP LOCKED on PostgreSQL).

Also run on SQLite, where BEGIN IMMEDIATE makes the claim a single writer's transaction.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.store.conftest import accept, at
from watchdog.store import Store


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
