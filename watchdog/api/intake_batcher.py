"""Group commit for intake: events that arrive while a batch is being written go into the next one.

One writer thread commits a whole batch in one transaction (one fsync); each caller's 202 waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Unpack

from watchdog.store import Store
from watchdog.store.intake_repo import Accepted, EventIntake

# Enough that a burst from many clients shares an fsync, small enough that one batch commits in
# milliseconds (a batch's latency is every caller's latency).
MAX_BATCH = 64


class IntakeBatcher:
    """Queues accept_event keywords; one drain task writes them through Store.accept_events in batches.

    Batching needs no timer: while a batch is in the writer thread the next callers queue up, so the batch
    size follows the load (1 when idle, dozens under a burst) and nobody waits for a batch to fill.
    """

    def __init__(self, store: Store, *, lock: asyncio.Lock | None = None, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._lock = lock
        self._max = max_batch
        self._queue: list[tuple[EventIntake, asyncio.Future[Accepted]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def accept(self, **item: Unpack[EventIntake]) -> Accepted:
        """accept_event's keywords in, its answer out, once the batch holding the event has committed."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            items = [item for item, _ in batch]
            lock = self._lock if self._lock is not None else contextlib.nullcontext()
            try:
                async with lock:
                    results: list[Accepted | Exception] = await asyncio.to_thread(
                        self._store.accept_events, items
                    )
            except Exception as exc:  # nothing of the batch is known to be kept: every caller hears it
                results = [exc for _ in batch]
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller went away (its request was cancelled)
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
