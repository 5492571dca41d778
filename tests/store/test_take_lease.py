"""Store contract, take_lease: one verification's lease for work that is not a due sample.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

from tests.store.conftest import accept, at
from watchdog.store import Store


def test_take_lease_only_when_free_lapsed_or_ours(store: Store) -> None:
    vid = accept(store, now=at(0)).verification.id
    store.set_state(verification_id=vid, to_state="failed", reason="errors", now=at(1))
    assert store.take_lease(verification_id=vid, owner="a", now=at(2), lease_s=30)
    assert not store.take_lease(verification_id=vid, owner="b", now=at(20), lease_s=30)
    assert store.take_lease(verification_id=vid, owner="a", now=at(25), lease_s=30)  # ours: extended
    # Renewals keep a non-final row leased while its owner lives (a rollback in flight).
    assert store.renew_leases(owner="a", now=at(50), lease_s=30) == 1
    assert not store.take_lease(verification_id=vid, owner="b", now=at(70), lease_s=30)
    held = store.get_verification(vid)
    assert (held.lease_owner, held.lease_epoch) == ("a", 1)
    assert store.take_lease(verification_id=vid, owner="b", now=at(81), lease_s=30)  # lapsed: taken over
    taken = store.get_verification(vid)
    assert (taken.lease_owner, taken.lease_epoch) == ("b", 2)
