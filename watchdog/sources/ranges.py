"""Past values of one check on a grid of sample times, as `sample()` would have read them then (backtests).

Sources with history (prometheus, datadog, sentry) answer with one range request per role, not one per time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from watchdog.sources.base import AnyCheck, SampleContext
from watchdog.sources.query_api import Fetched
from watchdog.sources.ratelimit import RateLimiter
from watchdog.sources.series import Reduce, Series, window_value


@dataclass(frozen=True)
class Grid:
    """`count` times start, start + interval, ... in epoch seconds; each reads the interval ending there."""

    start: float
    interval: float
    count: int

    @property
    def times(self) -> list[float]:
        return [self.start + i * self.interval for i in range(self.count)]

    @property
    def last(self) -> float:
        return self.start + (self.count - 1) * self.interval

    def chunks(self, max_points: int) -> list[Grid]:
        """The same times in pieces of at most `max_points`: how a long range is paged through an API."""
        out: list[Grid] = []
        for first in range(0, self.count, max(1, max_points)):
            n = min(max_points, self.count - first)
            out.append(Grid(start=self.start + first * self.interval, interval=self.interval, count=n))
        return out


@dataclass(frozen=True)
class RangeValues:
    """role -> one value per grid time (None: no data there), or why the source could not answer."""

    grid: Grid
    values: Mapping[str, Sequence[float | None]] = field(default_factory=dict)
    error: str | None = None
    kind: str | None = None  # the SourceError kind of `error` (rate_limited may heal with time)


@runtime_checkable
class RangeSource(Protocol):
    """A source that can answer for the past; http and scrape cannot (they only see the present)."""

    name: str

    async def range_values(
        self, check: AnyCheck, *, grid: Grid, ctx: SampleContext, release_scoped: bool = True
    ) -> RangeValues:
        """The check's values at each grid time, each over the interval ending there."""
        ...


async def patiently(
    run: Callable[[], Awaitable[Fetched]], *, limiter: RateLimiter, tries: int = 20, longest: float = 120.0
) -> Fetched:
    """One fetch of a history request, waiting out rate limits in between (a backtest has the time).

    Only this request is repeated, so the other pieces of a range already fetched are not asked again.
    """
    fetched = await run()
    for _ in range(tries - 1):
        if fetched.kind != "rate_limited":
            break
        await asyncio.sleep(min(longest, max(limiter.blocked_for(), 0.05)))
        fetched = await run()
    return fetched


def grid_of(*, deployed_at: datetime, before: float, after: float, interval: float) -> Grid:
    """Sample times from `before` seconds ahead of the deploy to `after` seconds past it, on its grid.

    The grid holds deployed_at itself, so a sample at k x interval is a grid time, as the engine samples it.
    """
    n_before = math.floor(before / interval + 1e-9)
    n_after = math.floor(after / interval + 1e-9)
    return Grid(
        start=deployed_at.timestamp() - n_before * interval, interval=interval, count=n_before + n_after + 1
    )


def read_grid(series: Sequence[Series], *, grid: Grid, how: Reduce) -> list[float | None]:
    """For each grid time t, the value over [t - interval, t) of bucketed points (Datadog, Sentry)."""
    return [window_value(series, start=t - grid.interval, end=t, how=how) for t in grid.times]
