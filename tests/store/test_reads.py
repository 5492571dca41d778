"""Store contract, reads: single rows, NotFound, filtered keyset pages, state counts and the full detail.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

from typing import TypedDict, Unpack

import pytest

from tests.store.conftest import T0, accept, at
from watchdog.errors import NotFound, StoreError
from watchdog.store import Store
from watchdog.store.records import SampleRow


def test_missing_ids_raise_not_found(store: Store) -> None:
    for call in (
        store.get_deployment,
        store.get_verification,
        store.deploy_verification,
        store.deployment_detail,
        store.get_rollback,
        store.get_incident,
    ):
        with pytest.raises(NotFound):
            call("nope")


def test_list_deployments_pages_newest_first_over_ties(store: Store) -> None:
    # Three share one received_at, so the id decides their order and the cursor must carry it.
    ids = [accept(store, version=f"1.0.{i}", now=at(min(i, 3))).deployment.id for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = store.list_deployments(limit=3, cursor=cursor)
        pages += 1
        seen.extend(dep.id for dep, _ in page)
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    received = [store.get_deployment(i).received_at for i in seen]
    assert received == sorted(received, reverse=True)
    tied = [i for i in seen if store.get_deployment(i).received_at == at(3)]
    assert tied == sorted(tied, reverse=True)


class Filters(TypedDict, total=False):
    service: str
    environment: str
    state: str


def test_list_deployments_filters(store: Store) -> None:
    a = accept(store, version="1", now=at(0))
    b = accept(store, version="1", environment="staging", now=at(1))
    c = accept(store, version="1", service="cart", now=at(2))
    store.set_state(verification_id=b.verification.id, to_state="verifying", reason="warm", now=at(3))

    def ids(**filters: Unpack[Filters]) -> list[str]:
        page, cursor = store.list_deployments(**filters)
        assert cursor is None
        return [dep.id for dep, _ in page]

    assert ids() == [c.deployment.id, b.deployment.id, a.deployment.id]
    assert ids(service="checkout") == [b.deployment.id, a.deployment.id]
    assert ids(environment="staging") == [b.deployment.id]
    assert ids(state="verifying") == [b.deployment.id]
    assert ids(service="checkout", environment="production", state="pending") == [a.deployment.id]
    page, _ = store.list_deployments(environment="staging")
    assert page[0][1].id == b.verification.id and page[0][1].state == "verifying"


def test_list_deployments_rejects_a_bad_cursor(store: Store) -> None:
    with pytest.raises(StoreError):
        store.list_deployments(cursor="not-a-cursor")


def test_count_by_state_counts_deploy_verifications(store: Store) -> None:
    first = accept(store, version="1", now=at(0))
    accept(store, version="2", now=at(1))  # supersedes the first
    accept(store, version="1", environment="staging", now=at(2))
    store.create_verification(
        deployment_id=first.deployment.id,
        kind="rollback",
        version="0.9",
        artifact="0.9",
        starts_at=at(3),
        interval_s=15,
        samples_total=8,
        policy={},
        now=at(3),
        reason="rollback started",
    )
    assert store.count_by_state() == {"pending": 2, "superseded": 1}


def test_deployment_detail_returns_everything(store: Store) -> None:
    result = accept(store, version="2.0.0", previous_version="1.9.0", now=T0)
    v = result.verification
    [claimed] = store.claim_due(owner="a", now=at(1), lease_s=30, limit=10)
    sample = SampleRow(
        verification_id=v.id,
        check_name="errors",
        k=1,
        t=30.0,
        taken_at=at(30),
        outcome="fail",
        reason="r=0.1 > 0.02",
        observed=0.1,
        warmup=False,
        measurement={"errors": 10, "requests": 100},
    )
    assert store.record_step(
        verification_id=v.id,
        owner="a",
        epoch=claimed.lease_epoch,
        now=at(31),
        samples=[sample],
        next_k=2,
        next_sample_at=None,
        transition=("failed", "errors failed"),
        verdict="failed",
        action="rollback",
        decided_after_s=30.0,
        failed_checks=["errors"],
    )
    rollback = store.create_rollback(
        deployment_id=result.deployment.id,
        service="checkout",
        environment="production",
        trigger="auto",
        state="intent",
        reason="errors failed",
        target="k8s-prod",
        from_version="2.0.0",
        from_artifact="2.0.0",
        to_version="1.9.0",
        to_artifact="1.9.0",
        now=at(32),
    )
    check = store.create_verification(
        deployment_id=result.deployment.id,
        kind="rollback",
        version="1.9.0",
        artifact="1.9.0",
        starts_at=at(40),
        interval_s=15,
        samples_total=8,
        policy={},
        now=at(40),
        reason="verifying restored 1.9.0",
    )
    incident = store.upsert_incident(
        deployment_id=result.deployment.id,
        service="checkout",
        environment="production",
        version="2.0.0",
        status="failed",
        title="checkout 2.0.0 failed",
        path="reports/x.md",
        now=at(33),
    )
    detail = store.deployment_detail(result.deployment.id)
    assert detail.deployment == result.deployment
    assert detail.verification.state == "failed" and detail.verification.failed_checks == ["errors"]
    assert detail.samples == [sample]
    assert [t.to_state for t in detail.transitions] == ["pending", "failed", "pending"]
    assert detail.rollbacks == [rollback]
    assert detail.rollback_verifications == [check]
    assert detail.incident == incident
