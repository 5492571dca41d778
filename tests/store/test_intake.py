"""Store contract, intake: accept_event writes it all at once, supersedes, dedupes deliveries, seeds stable.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest

from tests.store.conftest import POLICY, T0, accept, at, count_rows, make_event
from watchdog.errors import StoreError
from watchdog.store import Accepted, Store


def test_accept_writes_deployment_verification_transition_and_delivery(store: Store) -> None:
    result = accept(
        store,
        delivery_id="d-1",
        artifact="reg/checkout@sha256:aa",
        labels={"team": "payments"},
        deployed_at=at(-5),
        commit="9f1c",
    )
    assert not result.duplicate
    assert result.status_code == 202
    assert result.response == {"deployment_id": result.deployment.id, "state": "pending"}
    dep, ver = result.deployment, result.verification
    assert (dep.service, dep.environment, dep.version, dep.artifact) == (
        "checkout",
        "production",
        "2.4.1",
        "reg/checkout@sha256:aa",
    )
    assert dep.labels == {"team": "payments"}
    assert dep.policy == POLICY
    assert dep.deployed_at == at(-5) and dep.deployed_at.tzinfo is UTC
    assert dep.received_at == T0 and dep.source == "generic" and dep.commit == "9f1c"
    assert (ver.kind, ver.state, ver.next_k, ver.lease_epoch) == ("deploy", "pending", 1, 0)
    assert ver.starts_at == at(-5) and ver.next_sample_at == T0
    assert (ver.interval_s, ver.samples_total) == (30.0, 20)
    assert ver.baseline is None and ver.failed_checks == [] and ver.policy == POLICY
    assert store.get_deployment(dep.id) == dep
    assert store.get_verification(ver.id) == ver
    [transition] = store.transitions_for(dep.id)
    assert (transition.from_state, transition.to_state) == (None, "pending")
    assert transition.reason == "event accepted from generic"
    delivery = store.find_delivery(source="generic", delivery_id="d-1")
    assert delivery is not None
    assert (delivery.status_code, delivery.deployment_id) == (202, dep.id)
    assert delivery.response == result.response


def test_deployed_at_defaults_to_now(store: Store) -> None:
    result = accept(store, now=at(42))
    assert result.deployment.deployed_at == at(42) == result.verification.starts_at


def test_sampling_plan_reads_duration_strings(store: Store) -> None:
    result = accept(store, policy={"verification": {"duration": "2m", "interval": "15s"}})
    assert (result.verification.interval_s, result.verification.samples_total) == (15.0, 8)


def test_newer_deploy_supersedes_running_verifications_of_the_same_service_and_environment(
    store: Store,
) -> None:
    old = accept(store, version="1.0.0", now=at(0))
    staging = accept(store, version="1.0.0", environment="staging", now=at(1))
    other_service = accept(store, version="1.0.0", service="cart", now=at(2))
    new = accept(store, version="1.1.0", now=at(10))
    assert new.superseded == [old.deployment.id]
    superseded = store.get_verification(old.verification.id)
    assert superseded.state == "superseded"
    assert superseded.next_sample_at is None and superseded.finished_at == at(10)
    assert superseded.reason == f"superseded by 1.1.0 ({new.deployment.id})"
    assert store.transitions_for(old.deployment.id)[-1].to_state == "superseded"
    assert store.get_verification(staging.verification.id).state == "pending"
    assert store.get_verification(other_service.verification.id).state == "pending"


def test_finished_verifications_are_not_superseded(store: Store) -> None:
    old = accept(store, version="1.0.0")
    store.set_state(verification_id=old.verification.id, to_state="passed", reason="window over", now=at(5))
    new = accept(store, version="1.1.0", now=at(10))
    assert new.superseded == []
    assert store.get_verification(old.verification.id).state == "passed"


def test_duplicate_delivery_returns_the_first_answer_and_writes_nothing(store: Store) -> None:
    first = accept(store, delivery_id="gh-1", source="github")
    tables = ("deployments", "verifications", "transitions", "deliveries", "stable_artifacts")
    before = {t: count_rows(store, t) for t in tables}
    again = accept(
        store, delivery_id="gh-1", source="github", version="9.9.9", previous_artifact="x", now=at(60)
    )
    assert again.duplicate
    assert again.deployment == first.deployment
    assert again.response == first.response and again.status_code == 202
    assert {t: count_rows(store, t) for t in tables} == before
    # The same id from another source is another delivery.
    assert not accept(store, delivery_id="gh-1", source="gitlab").duplicate


def test_concurrent_deliveries_of_one_event_create_one_deployment(store: Store) -> None:
    barrier = threading.Barrier(4)

    def deliver(_: int) -> Accepted:
        barrier.wait()
        return accept(store, delivery_id="race-1")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(deliver, range(4)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.deployment.id for r in results}) == 1
    assert count_rows(store, "deployments") == 1


def test_record_delivery_keeps_the_first_answer(store: Store) -> None:
    assert store.find_delivery(source="github", delivery_id="ping-1") is None
    first = store.record_delivery(
        source="github", delivery_id="ping-1", status_code=200, response={"ignored": "ping"}, now=T0
    )
    assert (first.status_code, first.response, first.deployment_id) == (200, {"ignored": "ping"}, None)
    assert first.received_at == T0
    again = store.record_delivery(
        source="github", delivery_id="ping-1", status_code=500, response={"other": 1}, now=at(9)
    )
    assert again == first
    # An event under an id that was answered without a deployment cannot be accepted.
    with pytest.raises(StoreError):
        accept(store, source="github", delivery_id="ping-1")


def test_previous_artifact_is_seeded_as_assumed_stable_once(store: Store) -> None:
    accept(store, version="2.0.0", previous_version="1.9.0", previous_artifact="reg/c@sha256:19")
    [row] = store.stable_history(service="checkout", environment="production")
    assert (row.version, row.artifact, row.status, row.deployment_id) == (
        "1.9.0",
        "reg/c@sha256:19",
        "assumed_stable",
        None,
    )
    store.mark_bad(
        service="checkout",
        environment="production",
        version="1.9.0",
        artifact="reg/c@sha256:19",
        deployment_id=None,
        now=at(5),
        reason="failed",
    )
    accept(store, version="2.0.1", previous_version="1.9.0", previous_artifact="reg/c@sha256:19", now=at(10))
    [row] = store.stable_history(service="checkout", environment="production")
    assert row.status == "bad"  # a known verdict is never overwritten by an assumption


def test_previous_version_alone_seeds_its_version_as_artifact(store: Store) -> None:
    accept(store, previous_version="2.4.0")
    row = store.artifact_status(service="checkout", environment="production", artifact="2.4.0")
    assert row is not None and row.status == "assumed_stable"


def test_rollback_of_is_stored(store: Store) -> None:
    failed = accept(store, version="2.0.0")
    restore = store.accept_event(
        event=make_event(version="1.9.0", is_rollback=True),
        source="rollback",
        delivery_id=None,
        policy=POLICY,
        now=at(30),
        rollback_of=failed.deployment.id,
    )
    assert restore.deployment.rollback_of == failed.deployment.id
    assert restore.deployment.is_rollback
