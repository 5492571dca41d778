"""Fetches past values for a backtest: one range request per check role and deploy, cached and bounded.

Rate limits are waited out (a backtest has time; a live sample does not), then the fetch is tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from watchdog.sources.base import AnyCheck, SampleContext
from watchdog.sources.ranges import Grid, RangeSource, RangeValues

# A 429 or an exhausted window is waited out this many times before the deploy is not replayable.
_RATE_LIMIT_TRIES = 20
# The longest single wait for a rate-limit window, in seconds.
_MAX_WAIT = 120.0


@dataclass
class HistoryFetcher:
    """Shared by every deploy of one backtest: the cache key is the source, the rendered check and grid."""

    concurrency: int = 8
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    requests: int = 0  # range fetches that went out (cache misses)
    hits: int = 0
    _slots: asyncio.Semaphore | None = None
    _cache: dict[tuple[object, ...], asyncio.Future[RangeValues]] = field(default_factory=dict)

    async def fetch(
        self,
        source: RangeSource,
        check: AnyCheck,
        *,
        grid: Grid,
        ctx: SampleContext,
        release_scoped: bool = True,
    ) -> RangeValues:
        key = (source.name, check.model_dump_json(), grid, ctx.version, ctx.environment, release_scoped)
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            return await asyncio.shield(found)
        future: asyncio.Future[RangeValues] = asyncio.get_running_loop().create_future()
        self._cache[key] = future
        try:
            result = await self._fetch(source, check, grid=grid, ctx=ctx, release_scoped=release_scoped)
        except BaseException as exc:
            del self._cache[key]
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        future.set_result(result)
        return result

    async def _fetch(
        self, source: RangeSource, check: AnyCheck, *, grid: Grid, ctx: SampleContext, release_scoped: bool
    ) -> RangeValues:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        result = RangeValues(grid=grid, error="not fetched")
        for _ in range(_RATE_LIMIT_TRIES):
            async with self._slots:
                self.requests += 1
                result = await source.range_values(check, grid=grid, ctx=ctx, release_scoped=release_scoped)
            if result.kind != "rate_limited":
                return result
            limiter = getattr(source, "limiter", None)
            wait = limiter.blocked_for() if limiter is not None else 1.0
            await self.sleep(min(_MAX_WAIT, max(wait, 0.05)))
        return result
