"""Group commit for the engine's steps: steps that finish while a batch is being written go into the next.

One transaction (one fsync) per batch instead of one per step; each step's caller waits for its batch.
"""

from __future__ import annotations

from typing import Any

from watchdog.store import Store
from watchdog.store.group_commit import GroupCommit

# Enough that a tick's worth of steps shares an fsync; small enough that one batch commits in
# milliseconds (a batch's latency is each of its steps' latency, and a verdict waits on it).
MAX_BATCH = 128


class StepWriter:
    """record_step's keywords through Store.record_steps in batches (store/group_commit.py)."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self._batches: GroupCommit[bool] = GroupCommit(store.record_steps, max_batch=max_batch)

    async def record(self, **step: Any) -> bool:
        """record_step's keywords in, its answer out (False: fenced out), once its batch has committed."""
        return await self._batches.submit(**step)
