"""Group commit for intake: events that arrive while a batch is being written go into the next one.

One writer thread commits a whole batch in one transaction (one fsync); each caller's 202 waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Unpack

from watchdog.store import Store
from watchdog.store.group_commit import GroupCommit
from watchdog.store.intake_repo import Accepted, EventIntake

# Enough that a burst from many clients shares an fsync, small enough that one batch commits in
# milliseconds (a batch's latency is every caller's latency).
MAX_BATCH = 64


class IntakeBatcher:
    """accept_event's keywords through Store.accept_events in batches (store/group_commit.py)."""

    def __init__(self, store: Store, *, lock: asyncio.Lock | None = None, max_batch: int = MAX_BATCH) -> None:
        self._batches: GroupCommit[Accepted] = GroupCommit(
            store.accept_events, max_batch=max_batch, lock=lock
        )

    async def accept(self, **item: Unpack[EventIntake]) -> Accepted:
        """accept_event's keywords in, its answer out, once the batch holding the event has committed."""
        return await self._batches.submit(**item)
