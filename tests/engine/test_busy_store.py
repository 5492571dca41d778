"""A store that refuses writes for a while (its lock held past the busy timeout by another writer, as in a
fleet-wide burst) costs a warning, not an ERROR per step, and loses nothing: the next tick does the work."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from tests.engine.conftest import POLICY, RecordingTarget, build
from tests.engine.test_engine import combined
from watchdog.engine.busy import Refusals
from watchdog.store.health import StoreUnavailable


async def test_a_claim_refused_by_a_locked_store_is_a_warning_and_the_next_tick_does_the_work(
    tmp_path: Path, target: RecordingTarget, caplog: pytest.LogCaptureFixture
) -> None:
    h = build(tmp_path, policy=POLICY, script=combined, target=target)
    dep = h.deploy("1.0.0")
    # Another writer holds SQLite's write lock past the store's busy timeout (a real lock, a real wait).
    blocker = sqlite3.connect(tmp_path / "wd.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING):
            stepped = await h.engine.tick()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert stepped == 0
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    said = [r.getMessage() for r in caplog.records if r.name == "watchdog.engine.busy"]
    assert said and "refused 1 claims" in said[0] and "retries" in said[0], said
    assert h.state(dep).state == "pending"  # untouched, still due
    await h.run_for(60)
    v = h.state(dep)
    assert v.state == "passed", v
    assert len(h.store.samples_for(v.id)) == 12  # every sample taken once, none lost to the refusal


def test_refusals_are_said_once_a_minute_with_what_was_refused_meanwhile(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = [0.0]
    refusals = Refusals(every_s=60.0, now=lambda: t[0])
    busy = StoreUnavailable("the state store refused a write (OperationalError: database is locked)")
    with caplog.at_level(logging.WARNING, logger="watchdog.engine.busy"):
        refusals.refused("steps", busy)  # the first is said at once
        for _ in range(40):
            t[0] += 1.0
            refusals.refused("steps", busy)
        refusals.refused("claims", busy)
        t[0] += 30.0
        refusals.refused("steps", busy)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "refused 1 steps" in lines[0]
    assert "refused 1 claims, 41 steps" in lines[1] and "database is locked" in lines[1]
