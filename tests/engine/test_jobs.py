"""The engine's periodic jobs under load: a run that comes due while the previous one still runs is skipped
quietly (no APScheduler warning per interval), and the silence job reads nothing without an alertmanager.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tests.engine.conftest import POLICY, RecordingTarget, build, up
from watchdog.engine.background import every
from watchdog.engine.silences import SilenceKeeper


async def test_a_job_still_running_skips_its_next_runs_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    calls: list[str] = []
    skipped = asyncio.Event()

    async def slow() -> None:
        calls.append("ran")
        await release.wait()

    guard_log = logging.getLogger("watchdog.engine.background")

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            skipped.set()

    seen = Seen(level=logging.DEBUG)
    guard_log.addHandler(seen)
    guard_log.setLevel(logging.DEBUG)
    sched = AsyncIOScheduler(timezone=UTC)
    every(sched, slow, id="slow", seconds=0.01)
    caplog.set_level(logging.INFO)
    sched.start()
    try:
        async with asyncio.timeout(30):
            await skipped.wait()  # a second run came due while the first still held its turn
        release.set()
    finally:
        sched.shutdown(wait=False)
        guard_log.removeHandler(seen)
        guard_log.setLevel(logging.NOTSET)
    assert calls == ["ran"]  # the skipped run did not start the job a second time
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]


async def test_without_an_alertmanager_the_silence_job_reads_no_verification(
    tmp_path: Path, target: RecordingTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = build(tmp_path, policy=POLICY, script=lambda version, k: up(), target=target)
    h.deploy("1.0.0")

    def unread() -> object:
        raise AssertionError("read every running verification with no silence to keep")

    monkeypatch.setattr(h.store, "unfinished_verifications", unread)
    keeper = SilenceKeeper(store=h.store, notifiers={}, clock=h.clock, owner="test-1")
    await keeper.sync()
    assert keeper.alertmanagers() == {}
