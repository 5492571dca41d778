"""Operator requests across replicas: recorded by any, carried out once by the lease holder.

Two engines on one SQLite store stand for two replicas; a third with the first one's name is its restart.
"""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import POLICY, Harness, RecordingTarget, build
from tests.engine.test_engine import combined
from watchdog.engine.requests import Requests
from watchdog.store.records import RollbackRow, VerificationRow


def replicas(tmp_path: Path, target: RecordingTarget) -> tuple[Harness, Harness]:
    """replica-a with 1.0.0 deployed (to be verified by the caller); replica-b shares its store and clock."""
    a = build(tmp_path, policy=POLICY, script=combined, target=target, owner="replica-a")
    a.deploy("1.0.0")
    return a, _b(tmp_path, a, target)


def _b(tmp_path: Path, a: Harness, target: RecordingTarget, owner: str = "replica-b") -> Harness:
    return build(
        tmp_path,
        policy=POLICY,
        script=combined,
        target=target,
        engine_store=a.store,
        clock=a.clock,
        owner=owner,
    )


async def test_rollback_asked_of_the_replica_without_the_lease_is_done_once_by_the_holder(
    tmp_path: Path, target: RecordingTarget
) -> None:
    a, b = replicas(tmp_path, target)
    await a.run_for(60)  # 1.0.0 passed: the stable artifact
    dep = a.deploy("1.1.0")
    await a.run_for(20)  # replica-a holds 1.1.0's lease, mid-window
    assert a.state(dep).lease_owner == "replica-a"

    # replica-b's API records the request (twice: a retry, or two operators at once) ...
    first, new = b.store.create_request(
        deployment_id=dep,
        kind="rollback",
        reason="users report errors",
        requested_by="ops",
        received_by="replica-b",
        now=b.clock.now(),
    )
    again, new_again = a.store.create_request(
        deployment_id=dep,
        kind="rollback",
        reason="me too",
        requested_by="ops2",
        received_by="replica-a",
        now=a.clock.now(),
    )
    assert (new, new_again, again.id) == (True, False, first.id)
    # ... but cannot act on it: the deployment is not failed by a replica that cannot roll it back.
    assert await b.engine.requests.run() == 0
    assert a.state(dep).state in ("warming", "verifying") and not target.calls
    assert b.store.get_request(first.id).state == "pending"

    assert await a.engine.requests.run() == 1
    await a.engine.settle()  # the target call is the outbox worker's, after the intent
    done = a.store.get_request(first.id)
    assert (done.state, done.handled_by, done.received_by) == ("done", "replica-a", "replica-b")
    [rb] = a.store.rollbacks_for(dep)
    assert done.rollback_id == rb.id and rb.trigger == "manual"
    assert any("ops asked for a rollback" in t.reason for t in a.store.transitions_for(dep))
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]

    # Asked once more after it was done: refused by the engine's own rule, no second call.
    a.clock.advance(1)
    late, _ = b.store.create_request(
        deployment_id=dep,
        kind="rollback",
        reason="again",
        requested_by="ops",
        received_by="replica-b",
        now=b.clock.now(),
    )
    assert await b.engine.requests.run() + await a.engine.requests.run() == 1
    refused = a.store.get_request(late.id)
    assert (refused.state, refused.error) == ("refused", "rollback_refused")
    assert len(target.calls) == 1


async def test_a_request_interrupted_after_its_rollback_began_is_not_done_twice(
    tmp_path: Path, target: RecordingTarget
) -> None:
    a, _ = replicas(tmp_path, target)
    await a.run_for(60)
    dep = a.deploy("1.1.0")
    await a.run_for(20)
    req, _ = a.store.create_request(
        deployment_id=dep,
        kind="rollback",
        reason="r",
        requested_by="ops",
        received_by="replica-a",
        now=a.clock.now(),
    )
    # replica-a began the request and the rollback, then died before it recorded the outcome.
    assert a.store.start_request(request_id=req.id, handled_by="replica-a", now=a.clock.now())
    a.clock.advance(1)
    await a.engine.request_rollback(dep, by="ops", reason="r")
    restarted = _b(tmp_path, a, target, owner="replica-a")
    assert await restarted.engine.requests.run() == 1
    await a.engine.settle()  # the target call is the outbox worker's, after the intent
    await restarted.engine.settle()
    finished = a.store.get_request(req.id)
    assert finished.state == "done" and finished.rollback_id == a.store.rollbacks_for(dep)[0].id
    assert len(target.calls) == 1


async def test_promotion_from_any_replica(tmp_path: Path, target: RecordingTarget) -> None:
    a, b = replicas(tmp_path, target)
    await a.run_for(60)
    dep = a.deploy("1.1.0")
    await a.run_for(20)
    req, _ = b.store.create_request(
        deployment_id=dep,
        kind="promote",
        reason="",
        requested_by="ops",
        received_by="replica-b",
        now=b.clock.now(),
    )
    assert await b.engine.requests.run() == 0
    assert await a.engine.requests.run() == 1
    assert a.state(dep).state == "promoted"
    assert a.store.get_request(req.id).state == "done"
    assert a.store.passed_in(service="app", environment="prod", artifact="reg/app@sha256:1.1.0")


async def test_a_finished_deployment_is_acted_on_by_whoever_asks(
    tmp_path: Path, target: RecordingTarget
) -> None:
    """No verification runs, so no live lease: the replica that recorded the request carries it out."""
    a, b = replicas(tmp_path, target)
    await a.run_for(60)
    dep = a.deploy("1.1.0")
    await a.run_for(60)
    assert a.state(dep).state == "passed"
    a.clock.advance(31)  # the finished verification's lease lapses
    req, _ = b.store.create_request(
        deployment_id=dep,
        kind="rollback",
        reason="r",
        requested_by="ops",
        received_by="replica-b",
        now=b.clock.now(),
    )
    assert await b.engine.requests.run() == 1
    await b.engine.settle()  # the target call is the outbox worker's, after the intent
    assert b.store.get_request(req.id).handled_by == "replica-b"
    assert len(target.calls) == 1


async def test_a_restart_takes_its_own_leases_back_at_once(tmp_path: Path, target: RecordingTarget) -> None:
    a = build(tmp_path, policy=POLICY, script=combined, target=target, owner="replica-a")
    dep = a.deploy("1.0.0")
    await a.run_for(20)  # holds the lease for 30 s more
    other = _b(tmp_path, a, target)
    a.clock.advance(10)
    assert await other.engine.tick() == 0  # a stranger waits for the lease
    restarted = _b(tmp_path, a, target, owner="replica-a")
    assert await restarted.engine.tick() == 1  # the same name does not
    await restarted.run_for(40)
    assert restarted.state(dep).state == "passed"


async def test_release_all_lets_another_replica_go_on_at_once(
    tmp_path: Path, target: RecordingTarget
) -> None:
    a = build(tmp_path, policy=POLICY, script=combined, target=target, owner="replica-a")
    dep = a.deploy("1.0.0")
    await a.run_for(20)
    assert a.store.release_all(owner="replica-a") == 1
    other = _b(tmp_path, a, target)
    a.clock.advance(10)
    assert await other.engine.tick() == 1
    assert other.state(dep).lease_owner == "replica-b"


class Broken:
    """An engine whose operator actions have a bug."""

    async def request_rollback(self, deployment_id: str, *, by: str, reason: str) -> RollbackRow:
        raise RuntimeError("bug in the rollback path")

    async def promote(self, deployment_id: str, *, by: str) -> VerificationRow:
        raise RuntimeError("bug in the promote path")


async def test_a_bug_fails_the_request_once_instead_of_retrying_it_forever(
    tmp_path: Path, target: RecordingTarget
) -> None:
    a, _ = replicas(tmp_path, target)
    dep = a.deploy("1.1.0")
    worker = Requests(store=a.store, clock=a.clock, owner="replica-a", lease_s=30, actions=Broken())
    req, _ = a.store.create_request(
        deployment_id=dep,
        kind="promote",
        reason="",
        requested_by="ops",
        received_by="replica-a",
        now=a.clock.now(),
    )
    assert await worker.run() == 0
    failed = a.store.get_request(req.id)
    assert (failed.state, failed.error) == ("failed", "error") and "bug in the promote path" in failed.detail
    assert a.store.open_requests() == []
