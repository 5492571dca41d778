"""Store contract, engine: leases on due verifications, fenced steps with sample dedupe, and state changes.

Runs on SQLite and PostgreSQL through the `store` fixture.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.store.conftest import accept, at
from watchdog.errors import NotFound
from watchdog.events import State
from watchdog.store import Store
from watchdog.store.records import SampleRow


def sample(verification_id: str, k: int, *, check: str = "errors", outcome: str = "pass") -> SampleRow:
    return SampleRow(
        verification_id=verification_id,
        check_name=check,
        k=k,
        t=30.0 * k,
        taken_at=at(30 * k),
        outcome=outcome,
        reason="ok",
        observed=0.01,
        warmup=k <= 2,
        measurement={"errors": 1, "requests": 100},
    )


def test_claim_due_leases_and_fences_by_epoch(store: Store) -> None:
    vid = accept(store, now=at(0)).verification.id
    [mine] = store.claim_due(owner="a", now=at(1), lease_s=30, limit=10)
    assert (mine.id, mine.lease_owner, mine.lease_until, mine.lease_epoch) == (vid, "a", at(31), 1)
    # Another owner cannot take a live lease.
    assert store.claim_due(owner="b", now=at(20), lease_s=30, limit=10) == []
    # Re-claiming our own lease extends it without a new epoch.
    [again] = store.claim_due(owner="a", now=at(25), lease_s=30, limit=10)
    assert (again.lease_until, again.lease_epoch) == (at(55), 1)
    # After expiry another owner takes it, and the epoch moves on.
    [theirs] = store.claim_due(owner="b", now=at(56), lease_s=30, limit=10)
    assert (theirs.lease_owner, theirs.lease_epoch) == ("b", 2)
    # The stalled first owner is fenced out.
    assert not store.record_step(
        verification_id=vid,
        owner="a",
        epoch=1,
        now=at(57),
        samples=[sample(vid, 1)],
        next_k=2,
        next_sample_at=at(60),
    )
    assert store.samples_for(vid) == []
    assert store.get_verification(vid).next_k == 1


def test_claim_due_takes_only_due_sampling_rows_in_due_order(store: Store) -> None:
    late = accept(store, service="a", now=at(5)).verification.id
    early = accept(store, service="b", now=at(1)).verification.id
    future = accept(store, service="c", now=at(100)).verification.id
    done = accept(store, service="d", now=at(0)).verification.id
    store.set_state(verification_id=done, to_state="passed", reason="done", now=at(2))
    claimed = store.claim_due(owner="a", now=at(10), lease_s=30, limit=10)
    assert [v.id for v in claimed] == [early, late]
    assert future not in {v.id for v in store.claim_due(owner="b", now=at(10), lease_s=30, limit=10)}
    # By t=100 the first leases have expired too: everything due comes back in due order, never the done one.
    later = store.claim_due(owner="c", now=at(100), lease_s=30, limit=10)
    assert [v.id for v in later] == [early, late, future]
    assert store.claim_due(owner="d", now=at(100), lease_s=30, limit=10) == []


def test_renew_and_release(store: Store) -> None:
    vid = accept(store, now=at(0)).verification.id
    store.claim_due(owner="a", now=at(1), lease_s=30, limit=10)
    assert store.renew_leases(owner="a", now=at(20), lease_s=30) == 1
    assert store.renew_leases(owner="b", now=at(20), lease_s=30) == 0
    assert store.get_verification(vid).lease_until == at(50)
    store.release(verification_id=vid, owner="b")  # not theirs: nothing happens
    assert store.get_verification(vid).lease_owner == "a"
    store.release(verification_id=vid, owner="a")
    released = store.get_verification(vid)
    assert (released.lease_owner, released.lease_until) == (None, None)
    [reclaimed] = store.claim_due(owner="b", now=at(21), lease_s=30, limit=10)
    assert reclaimed.lease_epoch == 2


def test_record_step_writes_samples_once_and_progress(store: Store) -> None:
    vid = accept(store, now=at(0)).verification.id
    [v] = store.claim_due(owner="a", now=at(30), lease_s=30, limit=1)
    step: dict[str, Any] = {"verification_id": vid, "owner": "a", "epoch": v.lease_epoch}
    first = [sample(vid, 1), sample(vid, 1, check="healthz")]
    assert store.record_step(
        **step,
        now=at(31),
        samples=first,
        next_k=2,
        next_sample_at=at(60),
        baseline={"errors": {"b": 0.01}},
        transition=("warming", "first sample"),
    )
    # A redone step (same k) and a duplicate inside one call are both stored once.
    assert store.record_step(
        **step,
        now=at(61),
        samples=[sample(vid, 1), sample(vid, 2), sample(vid, 2)],
        next_k=3,
        next_sample_at=at(90),
    )
    stored = store.samples_for(vid)
    assert [(s.k, s.check_name) for s in stored] == [(1, "errors"), (1, "healthz"), (2, "errors")]
    assert stored[0] == first[0]
    after = store.get_verification(vid)
    assert (after.state, after.next_k, after.next_sample_at) == ("warming", 3, at(90))
    assert after.baseline == {"errors": {"b": 0.01}}  # kept: the second step gave none
    assert after.updated_at == at(61)


def test_record_step_final_transition_finishes(store: Store) -> None:
    result = accept(store, now=at(0))
    vid = result.verification.id
    [v] = store.claim_due(owner="a", now=at(30), lease_s=30, limit=1)
    assert store.record_step(
        verification_id=vid,
        owner="a",
        epoch=v.lease_epoch,
        now=at(600),
        samples=[],
        next_k=21,
        next_sample_at=at(630),
        transition=(State.PASSED, "window over"),
        verdict="passed",
        action="none",
        decided_after_s=600.0,
        failed_checks=[],
    )
    done = store.get_verification(vid)
    assert (done.state, done.verdict, done.action, done.decided_after_s) == (
        "passed",
        "passed",
        "none",
        600.0,
    )
    assert (done.next_sample_at, done.finished_at, done.reason) == (None, at(600), "window over")
    assert [(t.from_state, t.to_state) for t in store.transitions_for(result.deployment.id)] == [
        (None, "pending"),
        ("pending", "passed"),
    ]
    # A final verification takes no more steps, lease or not.
    assert not store.record_step(
        verification_id=vid,
        owner="a",
        epoch=v.lease_epoch,
        now=at(601),
        samples=[sample(vid, 1)],
        next_k=22,
        next_sample_at=None,
    )
    assert store.samples_for(vid) == []


def test_set_state_with_expected_states(store: Store) -> None:
    result = accept(store, now=at(0))
    vid = result.verification.id
    assert not store.set_state(
        verification_id=vid, to_state="promoted", reason="operator", now=at(5), expect_states={"verifying"}
    )
    assert store.get_verification(vid).state == "pending"
    assert store.set_state(
        verification_id=vid,
        to_state="failed",
        reason="errors failed",
        now=at(6),
        expect_states=[State.PENDING, State.VERIFYING],
        verdict="failed",
        action="rollback",
        decided_after_s=90.0,
        failed_checks=["errors"],
    )
    failed = store.get_verification(vid)
    assert (failed.state, failed.verdict, failed.action, failed.failed_checks) == (
        "failed",
        "failed",
        "rollback",
        ["errors"],
    )
    assert (failed.next_sample_at, failed.finished_at) == (None, at(6))
    assert store.set_state(verification_id=vid, to_state="rolling_back", reason="rolling back", now=at(7))
    assert store.get_verification(vid).finished_at == at(6)  # finished once, when sampling stopped
    assert [t.to_state for t in store.transitions_for(result.deployment.id)] == [
        "pending",
        "failed",
        "rolling_back",
    ]
    with pytest.raises(TypeError):
        store.set_state(verification_id=vid, to_state="x", reason="", now=at(8), lease_owner="me")
    with pytest.raises(NotFound):
        store.set_state(verification_id="nope", to_state="cancelled", reason="", now=at(8))


def test_set_state_to_a_sampling_state_can_move_the_next_sample(store: Store) -> None:
    vid = accept(store, now=at(0)).verification.id
    assert store.set_state(
        verification_id=vid, to_state="warming", reason="baseline taken", now=at(1), next_sample_at=at(30)
    )
    got = store.get_verification(vid)
    assert (got.state, got.next_sample_at, got.finished_at) == ("warming", at(30), None)


def test_create_verification_and_unfinished(store: Store) -> None:
    result = accept(store, now=at(0))
    rollback_check = store.create_verification(
        deployment_id=result.deployment.id,
        kind="rollback",
        version="1.9.0",
        artifact="reg/c@1.9.0",
        starts_at=at(100),
        interval_s=15.0,
        samples_total=8,
        policy={"checks": []},
        now=at(100),
        reason="verifying restored 1.9.0",
    )
    assert (rollback_check.kind, rollback_check.state, rollback_check.next_k) == ("rollback", "pending", 1)
    assert rollback_check.next_sample_at == at(115)
    assert rollback_check.policy == {"checks": []}
    store.set_state(verification_id=result.verification.id, to_state="rolling_back", reason="rb", now=at(99))
    other = accept(store, environment="staging", now=at(1))
    store.set_state(verification_id=other.verification.id, to_state="passed", reason="ok", now=at(2))
    assert {v.id for v in store.unfinished_verifications()} == {result.verification.id, rollback_check.id}
    with pytest.raises(NotFound):
        store.create_verification(
            deployment_id="nope",
            kind="rollback",
            version="1",
            artifact="1",
            starts_at=at(0),
            interval_s=1,
            samples_total=1,
            policy={},
            now=at(0),
            reason="",
        )


def test_add_transition_is_a_note(store: Store) -> None:
    result = accept(store, now=at(0))
    store.add_transition(
        verification_id=result.verification.id,
        deployment_id=result.deployment.id,
        from_state="verifying",
        to_state="verifying",
        reason="gap: samples 5-9 missed",
        now=at(300),
    )
    note = store.transitions_for(result.deployment.id)[-1]
    assert (note.from_state, note.to_state, note.reason, note.at) == (
        "verifying",
        "verifying",
        "gap: samples 5-9 missed",
        at(300),
    )
    assert store.get_verification(result.verification.id).state == "pending"
