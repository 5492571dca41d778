"""Two engines on one store, as two replicas ticking together: each sample once, one rollback, one call.

Runs on SQLite and on PostgreSQL (a fresh database), the backend several replicas are meant to share.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import POLICY, RecordingTarget, build
from tests.engine.test_engine import combined
from tests.store.conftest import fresh_pg_database
from watchdog.clock import FakeClock
from watchdog.store import Store


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'shared.db'}")
        yield store
        store.close()
        return
    request.getfixturevalue("pg_url")  # skips locally, fails in CI, when PostgreSQL is down
    with fresh_pg_database() as url:
        store = Store(url)
        yield store
        store.close()


async def test_two_replicas_never_double_a_sample_or_a_rollback(
    tmp_path: Path, target: RecordingTarget, shared_store: Store
) -> None:
    a = build(
        tmp_path / "a", policy=POLICY, script=combined, target=target, engine_store=shared_store, owner="a"
    )
    clock: FakeClock = a.clock
    b = build(
        tmp_path / "b",
        policy=POLICY,
        script=combined,
        target=target,
        engine_store=shared_store,
        clock=clock,
        owner="b",
    )

    async def both_for(seconds: float) -> None:
        await asyncio.gather(a.engine.tick(), b.engine.tick())
        await asyncio.gather(a.engine.settle(), b.engine.settle())
        for _ in range(int(seconds // 10)):
            clock.advance(10)
            await asyncio.gather(a.engine.tick(), b.engine.tick())
            await asyncio.gather(a.engine.settle(), b.engine.settle())

    good = a.deploy("1.0.0")
    await both_for(60)
    assert a.state(good).state == "passed"
    bad = a.deploy("1.1.0-bad")
    await both_for(60)
    detail = shared_store.deployment_detail(bad)
    assert detail.verification.state == "rolled_back"
    assert [c.artifact for c in target.calls] == ["reg/app@sha256:1.0.0"]  # one call, not two
    assert len(detail.rollbacks) == 1
    for vid in (detail.verification.id, detail.rollback_verifications[0].id):
        ks = Counter((s.check_name, s.k) for s in shared_store.samples_for(vid))
        assert ks and max(ks.values()) == 1
