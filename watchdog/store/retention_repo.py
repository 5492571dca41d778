"""Retention: the bulk rows that age out — samples of long-finished verifications, old webhook deliveries,
old CI pipeline statuses.

Deployments, verifications, transitions, rollbacks and stable history stay: they are small and they are
the record (the gate and rollback targets read them); only the per-sample detail, replay ids and the CI
statuses of commits long gone (one row per pipeline run, for ever otherwise) go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.schema import ci_runs, deliveries, samples, verifications

v = verifications.c


@dataclass(frozen=True)
class Purged:
    samples: int
    deliveries: int
    ci_runs: int = 0


class RetentionRepo(StoreBase):
    def purge(
        self, *, samples_before: datetime, deliveries_before: datetime, ci_runs_before: datetime | None = None
    ) -> Purged:
        """Deletes samples of verifications finished before `samples_before`, deliveries received before
        `deliveries_before`, CI statuses received before `ci_runs_before` (default `samples_before`); a
        running verification keeps every sample, however old."""
        finished = select(v.id).where(v.finished_at.is_not(None), v.finished_at < mapping.ts(samples_before))
        ci_before = mapping.ts(samples_before if ci_runs_before is None else ci_runs_before)
        with self._write() as conn:
            gone_samples = conn.execute(delete(samples).where(samples.c.verification_id.in_(finished)))
            gone_deliveries = conn.execute(
                delete(deliveries).where(deliveries.c.received_at < mapping.ts(deliveries_before))
            )
            gone_ci = conn.execute(delete(ci_runs).where(ci_runs.c.received_at < ci_before))
            return Purged(
                samples=int(gone_samples.rowcount),
                deliveries=int(gone_deliveries.rowcount),
                ci_runs=int(gone_ci.rowcount),
            )
