"""The outbox: a verdict's obligations are written with it, claimed by one instance, done once, and
notifications keep one idempotency key across retries; fault points are inert outside tests.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from tests.engine.conftest import POLICY, RecordingTarget, build
from tests.engine.test_engine import combined
from watchdog.faults import Faults
from watchdog.store import Store
from watchdog.targets.base import RollbackRequest, RollbackResult


async def test_the_verdict_and_its_obligations_are_written_together(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    # Ticks only: no worker runs, as if the process died right after each step.
    await h.engine.tick()
    for _ in range(3):
        h.clock.advance(10)
        await h.engine.tick()
    assert h.state(bad).state == "failed"
    pending = [(a.kind, a.state) for a in h.store.actions_for(bad)]
    assert pending == [("mark_bad", "pending"), ("rollback", "pending")]
    assert target.calls == [] and h.store.rollbacks_for(bad) == []
    await h.engine.settle()  # whoever runs next carries them out, once
    kinds = [(a.kind, a.state) for a in h.store.actions_for(bad)]
    assert ("target_call", "done") in kinds and ("announce", "done") in kinds
    assert all(state == "done" for _, state in kinds)
    assert len(target.calls) == 1 and h.state(bad).state == "rolling_back"


async def test_one_instance_claims_an_action_until_its_claim_lapses(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    h.write_intent(bad)
    now = h.clock.now()
    [claimed] = h.store.claim_actions(owner="a", now=now, lease_s=30, limit=10)
    assert h.store.claim_actions(owner="b", now=now, lease_s=30, limit=10) == []
    assert not h.store.complete_action(claimed.id, owner="b", now=now)  # fenced: not b's
    later = now + timedelta(seconds=31)
    [taken] = h.store.claim_actions(owner="b", now=later, lease_s=30, limit=10)
    assert taken.id == claimed.id
    assert not h.store.complete_action(claimed.id, owner="a", now=later)  # a lost it
    assert h.store.complete_action(claimed.id, owner="b", now=later)
    assert not h.store.complete_action(claimed.id, owner="b", now=later)  # done once


async def test_a_message_keeps_its_idempotency_key_across_retries(
    tmp_path: Path, target: RecordingTarget
) -> None:
    from tests.notify.receiver import receiver

    with receiver(statuses=[503, 503]) as rx:
        hook = {"type": "webhook", "url": rx.url, "events": ["failed", "rolled_back"]}
        policy = json.loads(json.dumps(POLICY))
        policy["defaults"]["notify"] = ["hook"]
        h = build(tmp_path, policy=policy, script=combined, target=target, notifiers={"hook": hook})
        h.engine.worker.retry_base_s = 0.0  # retries at once: the clock here is fake
        h.deploy("1.0.0")
        await h.run_for(60)
        bad = h.deploy("1.1.0-bad")
        await h.run_for(50)
        for _ in range(5):
            await h.engine.settle()
        failed = [r for r in rx.requests if json.loads(r.body)["data"]["event"] == "failed"]
    assert len(failed) == 3  # two refusals by the receiver, then delivered
    keys = {r.headers["idempotency-key"] for r in failed}
    assert len(keys) == 1
    body_keys = {json.loads(r.body)["data"]["extra"]["idempotency_key"] for r in failed}
    assert {f"msg_{k}" for k in body_keys} == keys
    notify = [a for a in h.store.actions_for(bad) if a.kind == "notify"]
    assert notify and all(a.state == "done" for a in notify)


def test_fault_points_are_inert_unless_the_test_setting_is_on() -> None:
    Faults.from_env({"WATCHDOG_FAULTS": "after_verdict=kill"}).hit("after_verdict")  # still alive
    assert Faults.from_env({"WATCHDOG_FAULTS": "after_verdict=kill"}).rules == {}
    on = Faults.from_env({"WATCHDOG_FAULTS": "after_verdict=sleep:0@2", "WATCHDOG_TEST_FAULTS": "1"})
    assert on.rules == {"after_verdict": ["sleep:0@2"]}
    on.hit("after_verdict")
    on.hit("after_verdict")  # the second pass sleeps (for 0 s here)
    on.hit("after_sample_written")  # a point without a rule costs nothing
    with pytest.raises(ValueError, match="unknown fault action"):
        Faults("x=explode", enabled=True).hit("x")
    with pytest.raises(ValueError, match="not point=action"):
        Faults("nonsense", enabled=True)


async def test_an_intent_left_by_an_older_daemon_is_finished_after_the_upgrade(
    tmp_path: Path, target: RecordingTarget
) -> None:
    from watchdog.store import migrate

    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.deploy("1.0.0")
    await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    rollback_id = h.write_intent(bad)
    with h.store.engine.begin() as conn:  # as the schema before the outbox left it: an intent, no action
        conn.exec_driver_sql("DELETE FROM pending_actions")
    from alembic.script import ScriptDirectory

    before_outbox = ScriptDirectory.from_config(migrate.config()).get_revision("0002_11a").down_revision
    migrate.downgrade(h.store.engine, str(before_outbox))
    migrate.upgrade(h.store.engine)
    [adopted] = h.store.actions_for(bad)
    assert adopted.kind == "target_call" and adopted.payload == {"rollback_id": rollback_id}
    target.running = "reg/app@sha256:1.0.0"  # the old daemon's call went out before it died
    await h.engine.settle()
    assert target.calls == []  # counted as attempted: asked what runs, not called again
    await h.run_for(20)
    assert h.state(bad).state == "rolled_back"


@dataclass
class HangingTarget(RecordingTarget):
    """Never answers; `deploys` says whether the rollout happened anyway (the answer was lost)."""

    deploys: bool = False
    timeout: float = 0.025

    async def rollback(self, req: RollbackRequest) -> RollbackResult:
        self.calls.append(req)
        if self.deploys:
            self.running = req.artifact
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize("deploys", [True, False])
async def test_a_target_call_past_its_timeout_asks_what_runs(tmp_path: Path, deploys: bool) -> None:
    target = HangingTarget(deploys=deploys)
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    h.engine.rollbacks.timeout_margin_s = 0.0  # twice the target's 25 ms: the call is given up at once
    h.deploy("1.0.0")
    await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    await h.run_for(60)
    assert len(target.calls) == 1
    [row] = h.store.rollbacks_for(bad)
    if deploys:
        assert h.state(bad).state == "rolled_back" and "timed out, but" in row.reason
    else:
        assert h.state(bad).state == "rollback_failed" and "no answer within 0.05 s" in row.reason


@dataclass
class WatchingTarget(RecordingTarget):
    """A call that takes a while, recording which of the deployment's actions were done as it ends."""

    store: Store | None = None  # set once the harness has built it
    done_at_call: list[set[str]] = field(default_factory=list)

    async def rollback(self, req: RollbackRequest) -> RollbackResult:
        await asyncio.sleep(0.3)  # long enough for anything running beside the call to finish
        assert self.store is not None
        actions = await asyncio.to_thread(self.store.actions_for, req.deployment_id)
        self.done_at_call.append({a.kind for a in actions if a.state == "done"})
        return await super().rollback(req)


async def test_the_target_is_called_before_the_report_and_messages(tmp_path: Path) -> None:
    """Act first, write after: the deployment's announce (report, messages) waits for its target call."""
    target = WatchingTarget()
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    target.store = h.store
    h.deploy("1.0.0")
    await h.run_for(60)
    bad = h.deploy("1.1.0-bad")
    await h.run_for(40)
    await h.engine.settle()
    assert len(target.calls) == 1
    [done] = target.done_at_call
    assert "rollback" in done and "announce" not in done
    kinds = {a.kind: a.state for a in h.store.actions_for(bad)}
    assert kinds["announce"] == "done" and kinds["target_call"] == "done"
