"""A small single-flight query cache: identical upstream queries are sent once and their answer shared.

Bounded (LRU with a time to live); answers that should not be kept (errors) are shared in flight only.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class QueryCache(Generic[K, V]):
    """Maps a key to the answer of one computation; concurrent callers of a missing key share one task.

    `keep(value)` decides whether a finished answer is stored (errors are not, so the next caller
    retries); a joined in-flight computation counts as a hit, since it costs no upstream call.
    """

    def __init__(
        self,
        *,
        max_entries: int = 4096,
        ttl: float = 300.0,
        now: Callable[[], float] = time.monotonic,
        keep: Callable[[V], bool] = lambda _value: True,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._ttl = ttl
        self._now = now
        self._keep = keep
        self._done: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._done)

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The answer for `key` and whether it came without a new computation (a hit)."""
        stored = self._done.get(key)
        if stored is not None:
            expires, value = stored
            if expires > self._now():
                self._done.move_to_end(key)
                self.stats.hits += 1
                return value, True
            del self._done[key]
        task = self._inflight.get(key)
        hit = task is not None
        if task is None:
            task = asyncio.ensure_future(self._run(compute))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._finish(key, t))
        if hit:
            self.stats.hits += 1
        else:
            self.stats.misses += 1
        # shield: one caller being cancelled must not cancel the call the others wait for.
        return await asyncio.shield(task), hit

    @staticmethod
    async def _run(compute: Callable[[], Awaitable[V]]) -> V:
        return await compute()

    def _finish(self, key: K, task: asyncio.Task[V]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if task.cancelled() or task.exception() is not None:
            return  # task.exception() also marks a failure as seen when every waiter went away
        value = task.result()
        if not self._keep(value):
            return
        self._done[key] = (self._now() + self._ttl, value)
        self._done.move_to_end(key)
        while len(self._done) > self._max:
            self._done.popitem(last=False)

    def clear(self) -> None:
        self._done.clear()
