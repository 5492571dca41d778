"""The single-flight query cache: one computation per key, shared by concurrent callers.

Bounded (LRU) and expiring (TTL); errors are shared in flight but not kept.
"""

from __future__ import annotations

import asyncio

import pytest

from watchdog.sources.cache import QueryCache


class Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_concurrent_identical_keys_share_one_computation() -> None:
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    cache: QueryCache[str, int] = QueryCache()
    waiters = [asyncio.ensure_future(cache.get("q", compute)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters)
    assert calls == 1
    assert {v for v, _ in results} == {42}
    assert sum(1 for _, hit in results if not hit) == 1
    assert cache.stats.hits == 49 and cache.stats.misses == 1
    assert cache.stats.hit_rate == pytest.approx(0.98)


async def test_finished_answers_are_served_until_they_expire() -> None:
    now = Now()
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        return calls

    cache: QueryCache[str, int] = QueryCache(ttl=10, now=now)
    assert await cache.get("q", compute) == (1, False)
    assert await cache.get("q", compute) == (1, True)
    now.t = 11
    assert await cache.get("q", compute) == (2, False)


async def test_answers_not_kept_are_recomputed() -> None:
    calls = 0

    async def compute() -> str:
        nonlocal calls
        calls += 1
        return "error"

    cache: QueryCache[str, str] = QueryCache(keep=lambda v: v != "error")
    await cache.get("q", compute)
    await cache.get("q", compute)
    assert calls == 2
    assert len(cache) == 0


async def test_lru_bound() -> None:
    async def compute() -> int:
        return 1

    cache: QueryCache[int, int] = QueryCache(max_entries=3)
    for key in range(5):
        await cache.get(key, compute)
    assert len(cache) == 3
    assert (await cache.get(0, compute))[1] is False  # evicted: oldest first
    assert (await cache.get(4, compute))[1] is True


async def test_exceptions_reach_every_waiter_and_are_not_cached() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    cache: QueryCache[str, int] = QueryCache()
    results = await asyncio.gather(*(cache.get("q", compute) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert calls == 1
    with pytest.raises(RuntimeError):
        await cache.get("q", compute)
    assert calls == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_call() -> None:
    gate = asyncio.Event()

    async def compute() -> int:
        await gate.wait()
        return 7

    cache: QueryCache[str, int] = QueryCache()
    first = asyncio.ensure_future(cache.get("q", compute))
    second = asyncio.ensure_future(cache.get("q", compute))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == (7, True)
    assert first.cancelled()
