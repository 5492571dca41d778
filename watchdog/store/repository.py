"""`Store`: the one object the rest of the daemon talks to, composed of one mixin per area of the contract.

The contract is docs/dev/store-api.md; each mixin module owns one area (intake, reads, engine, history ...).
"""

from __future__ import annotations

from watchdog.store.admin_repo import AdminRepo
from watchdog.store.engine_repo import EngineRepo
from watchdog.store.gate_repo import GateRepo
from watchdog.store.history_repo import HistoryRepo
from watchdog.store.intake_repo import Accepted, IntakeRepo
from watchdog.store.lease_repo import LeaseRepo
from watchdog.store.outbox_repo import OutboxRepo
from watchdog.store.request_repo import RequestRepo
from watchdog.store.retention_repo import RetentionRepo
from watchdog.store.rollback_repo import RollbackRepo
from watchdog.store.stats_repo import StatsRepo

__all__ = ["Accepted", "Store"]


class Store(
    IntakeRepo,
    LeaseRepo,
    OutboxRepo,
    EngineRepo,
    HistoryRepo,
    RollbackRepo,
    AdminRepo,
    RetentionRepo,
    GateRepo,
    RequestRepo,
    StatsRepo,
):
    """Synchronous and thread-safe: async callers use `await asyncio.to_thread(store.method, ...)`.

    `Store(url)` creates the engine; `upgrade()` migrates to head; `ping()`, `close()`; the rest: contract.
    """
