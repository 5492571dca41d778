"""Retention: the bulk rows that age out — samples of long-finished verifications, old webhook deliveries.

Deployments, verifications, transitions, rollbacks and stable history stay: they are small and they are
the record (the gate and rollback targets read them); only the per-sample detail and replay ids go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.schema import deliveries, samples, verifications

v = verifications.c


@dataclass(frozen=True)
class Purged:
    samples: int
    deliveries: int


class RetentionRepo(StoreBase):
    def purge(self, *, samples_before: datetime, deliveries_before: datetime) -> Purged:
        """Deletes samples of verifications finished before `samples_before`, deliveries received before
        `deliveries_before`; a running verification keeps every sample, however old."""
        finished = select(v.id).where(v.finished_at.is_not(None), v.finished_at < mapping.ts(samples_before))
        with self._write() as conn:
            gone_samples = conn.execute(delete(samples).where(samples.c.verification_id.in_(finished)))
            gone_deliveries = conn.execute(
                delete(deliveries).where(deliveries.c.received_at < mapping.ts(deliveries_before))
            )
            return Purged(samples=int(gone_samples.rowcount), deliveries=int(gone_deliveries.rowcount))
