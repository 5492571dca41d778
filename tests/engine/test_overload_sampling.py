"""Lateness the daemon causes is its own: a stalled event loop or a sample taken late is inconclusive with
the overload reason, never a failing probe of a healthy service; the jitter offset is stable and bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.fakes.scripted_http import Recorded, Reply, ScriptedServer
from tests.sources.helpers import NOW, check, ctx
from watchdog.analysis.timing import sample_offset
from watchdog.engine.sampling import sample_all
from watchdog.looplag import LoopLag
from watchdog.sources.http import HttpSource


class Healthy(ScriptedServer):
    def handle(self, request: Recorded) -> Reply:
        time.sleep(0.05)  # in flight long enough for the stall below to land on it
        return Reply(200, {"status": "ok"})


@pytest.fixture
def server() -> Iterator[Healthy]:
    with Healthy() as s:
        yield s


async def test_a_probe_in_flight_while_the_loop_stalls_is_inconclusive_not_failing(server: Healthy) -> None:
    monitor = LoopLag(period=0.05)
    monitor.start()
    source = HttpSource()
    try:
        probe = check(type="http", url=f"{server.url}/healthz", name="healthz", timeout="0.3s")
        # A blocking step on the loop (as an overloaded daemon has) while the request is on the wire.
        asyncio.get_running_loop().call_later(0.01, time.sleep, 1.0)
        got = await sample_all(sources={"http": source}, checks=[probe], at=NOW, interval=10, ctx=ctx())
    finally:
        await source.aclose()
        await monitor.stop()
    m = got["healthz"]
    if m.values.get("up") == 1.0:
        return  # the answer beat the timeout after the stall: a pass is fine, a fail never is
    assert m.error is not None and m.error.startswith("watchdog overloaded: event loop lagged"), m


async def test_a_sample_taken_more_than_half_an_interval_late_is_inconclusive_and_not_probed(
    server: Healthy,
) -> None:
    source = HttpSource()
    try:
        probe = check(type="http", url=f"{server.url}/healthz", name="healthz")
        got = await sample_all(
            sources={"http": source}, checks=[probe], at=NOW, interval=10, ctx=ctx(), late_s=6.2
        )
    finally:
        await source.aclose()
    assert got["healthz"].error == "watchdog overloaded: sample taken 6.2 s late"
    assert server.paths("/healthz") == []  # load shed: nobody was asked


def test_the_sample_offset_is_stable_per_verification_and_inside_its_share() -> None:
    offsets = [sample_offset(f"v{i}", 30.0, share=0.4) for i in range(200)]
    assert offsets == [sample_offset(f"v{i}", 30.0, share=0.4) for i in range(200)]
    assert all(0 <= o < 12.0 for o in offsets)
    assert max(offsets) - min(offsets) > 6.0  # spread over the share, not one burst
    assert sample_offset("v1", 30.0, share=0) == 0
