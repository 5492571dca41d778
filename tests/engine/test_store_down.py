"""While the store's health probe says it is unusable, the engine claims nothing; it resumes once healthy."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import POLICY, RecordingTarget, build
from tests.engine.test_engine import combined


async def test_ticks_claim_nothing_while_the_store_is_unusable(
    tmp_path: Path, target: RecordingTarget
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    dep = h.deploy("1.0.0")
    h.store.health.problem = "the SQLite file was deleted"  # what the periodic probe records
    h.clock.advance(10)
    assert await h.engine.tick() == 0
    assert h.store.samples_for(h.state(dep).id) == []
    h.store.health.problem = None  # the probe found it healthy again
    assert await h.engine.tick() == 1
    assert h.store.samples_for(h.state(dep).id) != []
