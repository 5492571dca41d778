"""`serve --workers`: each engine claims its own share of the unleased verifications, split by id;
a share nobody claimed for a lease's length (its worker died or is still starting) is anyone's.
"""

from __future__ import annotations

from tests.store.conftest import accept, at
from watchdog.store import Store


def test_workers_split_the_free_rows_and_take_an_overdue_share(store: Store) -> None:
    ids = {
        accept(store, now=at(0), deployed_at=at(0), environment=f"e{i}").verification.id for i in range(24)
    }
    # Due at once (to start): each worker of two claims only its own share.
    first = store.claim_due(owner="w0", now=at(1), lease_s=10, limit=100, partition=(0, 2))
    second = store.claim_due(owner="w1", now=at(1), lease_s=10, limit=100, partition=(1, 2))
    mine, theirs = {v.id for v in first}, {v.id for v in second}
    assert mine and theirs and not mine & theirs
    assert mine | theirs == ids
    assert all(int(v[0], 16) % 2 == 0 for v in mine) and all(int(v[0], 16) % 2 == 1 for v in theirs)

    # A share left unclaimed: worker 1 of two never came up for the second batch.
    later = {
        accept(store, now=at(100), deployed_at=at(100), environment=f"f{i}").verification.id
        for i in range(24)
    }
    due = at(101)
    took = {v.id for v in store.claim_due(owner="w0", now=due, lease_s=10, limit=100, partition=(0, 2))}
    left = later - took
    assert left and all(int(v[0], 16) % 2 == 1 for v in left)
    # After a lease's length overdue it is worker 0's too: nothing stays unwatched.
    overdue = store.claim_due(owner="w0", now=at(111), lease_s=10, limit=100, partition=(0, 2))
    assert left <= {v.id for v in overdue}


def test_the_leases_of_a_worker_known_not_to_run_are_taken_over_at_once(store: Store) -> None:
    """A worker that died holds live leases; the serving engine, told it does not run, takes them now."""
    for i in range(8):
        accept(store, now=at(0), deployed_at=at(0), environment=f"e{i}")
    held = store.claim_due(owner="w-w1", now=at(1), lease_s=60, limit=100)
    assert held
    epochs = {v.id: v.lease_epoch for v in held}
    # Its leases run for another minute: without being told, nobody else may sample them.
    assert not store.claim_due(owner="w", now=at(2), lease_s=60, limit=100)
    # Another owner's live lease stays its own even when some worker is adopted.
    assert not store.claim_due(owner="w", now=at(2), lease_s=60, limit=100, adopt=["w-w2"])
    taken = store.claim_due(owner="w", now=at(2), lease_s=60, limit=100, adopt=["w-w1"])
    assert {v.id for v in taken} == set(epochs)
    assert all(v.lease_owner == "w" and v.lease_epoch == epochs[v.id] + 1 for v in taken)
    # The dead worker's replacement finds them leased to the serving engine now.
    assert not store.claim_due(owner="w-w1", now=at(3), lease_s=60, limit=100)
