"""The tick has no barrier between batches: a step that hangs holds only its own slot.

A verification whose probe waits on a gate keeps running while the other is sampled again and again.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.engine.conftest import POLICY, RecordingTarget, ScriptedSource, build
from watchdog.analysis.models import Measurement
from watchdog.events import DeployEvent
from watchdog.sources.base import AnyCheck, SampleContext


def healthy(version: str, k: int) -> Measurement:
    return Measurement(values={"up": 1.0, "errors": 1.0, "requests": 1000.0})


class GatedSource(ScriptedSource):
    """Like ScriptedSource, but the `slow` version's samples wait until the gate opens."""

    def __init__(self, name: str) -> None:
        super().__init__(name, healthy)
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        if ctx.version == "slow":
            self.waiting.set()
            await self.gate.wait()
        return await super().sample(check, at=at, interval=interval, ctx=ctx)


async def _until(condition: Callable[[], bool]) -> None:
    # A hang guard, not a timing assertion: the conditions below come true in a few loop turns.
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_hanging_step_does_not_hold_back_the_next_claim(
    tmp_path: Path, target: RecordingTarget
) -> None:
    policy = copy.deepcopy(POLICY)
    policy["environments"]["stage"] = copy.deepcopy(policy["environments"]["prod"])
    # A long interval: the engine's own bound on a source (one interval) stays far beyond this test.
    policy["defaults"]["verification"].update(interval="60s", duration="360s", warmup="0s")
    h = build(tmp_path, policy=policy, script=healthy, target=target)
    gated = GatedSource("http")
    h.engine.sources["http"] = gated
    dump = h.holder.current.policy("app", "prod")
    assert dump is not None
    ids = {}
    for version, env in (("slow", "prod"), ("fast", "stage")):
        event = DeployEvent(service="app", environment=env, version=version, deployed_at=h.clock.now())
        ids[version] = h.store.accept_event(
            event=event,
            source="generic",
            delivery_id=None,
            policy=dump.model_dump(mode="json", by_alias=True),
            now=h.clock.now(),
        ).verification.id
    await h.engine.tick()  # both start (baselines) and wait for their first sample
    h.clock.advance(60)
    first = asyncio.create_task(h.engine.tick())
    await _until(lambda: gated.waiting.is_set() and len(h.store.samples_for(ids["fast"])) == 2)
    # The slow verification's step is still under way; the fast one comes due again, and the scheduled ticks
    # (each finds the running one and asks it for another turn) get it sampled without waiting.
    h.clock.advance(60)
    async with asyncio.timeout(30):  # a hang guard
        while ("fast", "healthz", 2) not in gated.calls:
            assert await h.engine.tick() == 0
            await asyncio.sleep(0.01)
    assert not first.done()
    assert not any(version == "slow" for version, _, _ in gated.calls)
    gated.gate.set()
    assert await first >= 3
    # The slow verification was stepped once (sample 1, written), never a second time while it hung.
    slow = sorted((r.check_name, r.k, r.outcome) for r in h.store.samples_for(ids["slow"]))
    assert slow == [("errors", 1, "pass"), ("healthz", 1, "pass")]
    assert [k for version, name, k in gated.calls if version == "slow" and name == "healthz"] == [1]
    fast = {r.k for r in h.store.samples_for(ids["fast"])}
    assert fast == {1, 2}
