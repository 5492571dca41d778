"""Group commit: writes that arrive while a batch is being written go into the next one, in one transaction.

One drain task hands each batch to a writer thread (one fsync per batch); every caller waits for its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

R = TypeVar("R")
# A whole batch's keywords in, one answer (or the exception that item failed with) per item out, in order.
BatchWrite = Callable[[list[Any]], Sequence["R | Exception"]]


class GroupCommit(Generic[R]):
    """Queues keyword sets; one drain task writes them through `write` in batches of at most `max_batch`.

    Batching needs no timer: while a batch is in the writer thread the next callers queue up, so the batch
    size follows the load (1 when idle, dozens under a burst) and nobody waits for a batch to fill.
    """

    def __init__(self, write: BatchWrite[R], *, max_batch: int, lock: asyncio.Lock | None = None) -> None:
        self._write = write
        self._lock = lock
        self._max = max_batch
        self._queue: list[tuple[dict[str, Any], asyncio.Future[R]]] = []
        self._drain: asyncio.Task[None] | None = None

    async def submit(self, **item: Any) -> R:
        """One item's keywords in, its answer out, once the batch holding it has committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
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
                    results: Sequence[R | Exception] = await asyncio.to_thread(self._write, items)
            except Exception as exc:  # nothing of the batch is known to be kept: every caller hears it
                results = [exc for _ in batch]
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller went away (cancelled)
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
