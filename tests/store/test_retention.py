"""Store contract, retention: old samples, webhook ids and CI statuses go; the record of deploys stays.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

from tests.store.conftest import accept, at, count_rows
from tests.store.test_engine import sample
from watchdog.store import Store


def test_purge_keeps_running_verifications_and_the_record(store: Store) -> None:
    old = accept(store, service="a", delivery_id="d-old", now=at(0)).verification.id
    running = accept(store, service="b", delivery_id="d-new", now=at(0)).verification.id
    for vid in (old, running):
        [claimed] = [c for c in store.claim_due(owner="x", now=at(1), lease_s=30, limit=10) if c.id == vid]
        assert store.record_step(
            verification_id=vid,
            owner="x",
            epoch=claimed.lease_epoch,
            now=at(1),
            samples=[sample(vid, k=1), sample(vid, k=2)],
            next_k=3,
            next_sample_at=at(90),
        )
    store.set_state(verification_id=old, to_state="passed", reason="done", now=at(100))

    purged = store.purge(samples_before=at(200), deliveries_before=at(-1))
    assert (purged.samples, purged.deliveries) == (2, 0)
    assert store.samples_for(old) == [] and len(store.samples_for(running)) == 2
    assert store.get_verification(old).state == "passed" and count_rows(store, "transitions") >= 3

    assert store.purge(samples_before=at(200), deliveries_before=at(10)).deliveries == 2
    assert store.find_delivery(source="generic", delivery_id="d-old") is None


def test_purge_drops_ci_statuses_older_than_their_horizon(store: Store) -> None:
    for n, received in enumerate((at(0), at(50), at(300))):
        store.record_ci_run(
            source="gitlab",
            delivery_id=f"p-{n}",
            response={"recorded": True},
            service="shop",
            commit=f"c{n}",
            status="success",
            ref="main",
            url=None,
            now=received,
        )
    purged = store.purge(samples_before=at(100), deliveries_before=at(-1))
    assert purged.ci_runs == 2  # by default CI statuses live as long as samples do
    assert store.latest_ci_run(service="shop", commits=["c0", "c1"]) is None
    assert store.latest_ci_run(service="shop", commits=["c2"]) is not None
    kept = store.purge(samples_before=at(100), deliveries_before=at(-1), ci_runs_before=at(400))
    assert kept.ci_runs == 1
