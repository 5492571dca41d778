"""The ledger: per service and environment over a period, what was deployed, what failed, what was undone.

Also the operator's review of a rollback ("it was unneeded"), the one false-rollback signal people give.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, and_, select

from watchdog.errors import StoreError
from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.schema import deployments, rollback_reviews, rollbacks, transitions, verifications

# Deploy verification states that say the deploy itself was bad (its verdict was failed).
_BAD = frozenset({"failed", "rolling_back", "rolled_back", "rollback_failed"})
# Rollback rows that mean the target was actually asked to redeploy.
_ACTED = frozenset({"intent", "succeeded", "failed", "verifying", "verified", "verify_failed"})


class NotRolledBack(StoreError):
    """A review was asked of a deployment that no rollback ever acted on."""


@dataclass(frozen=True)
class RollbackReview:
    deployment_id: str
    unneeded: bool
    reason: str
    reviewed_by: str | None
    reviewed_at: datetime


@dataclass
class LedgerRow:
    service: str
    environment: str
    deploys: int = 0
    decided: int = 0  # deploys with a verdict (passed, failed, inconclusive), promotions included
    failed: int = 0
    inconclusive: int = 0
    automatic_rollbacks: int = 0
    manual_rollbacks: int = 0
    refused_rollbacks: int = 0
    rollbacks_failed: int = 0
    unneeded: int = 0
    recovery_s: list[float] = field(default_factory=list)  # deployed_at -> rolled_back, per rollback

    @property
    def change_failure_rate(self) -> float | None:
        return self.failed / self.decided if self.decided else None

    @property
    def false_rollback_rate(self) -> float | None:
        done = self.automatic_rollbacks + self.manual_rollbacks
        return self.unneeded / done if done else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class StatsRepo(StoreBase):
    def review_rollback(
        self, *, deployment_id: str, unneeded: bool, reason: str, by: str | None, now: datetime
    ) -> RollbackReview:
        """Upsert: an operator may change their mind; the last word counts."""
        with self._write() as conn:
            self._require_rollback(conn, deployment_id)
            self._upsert(
                conn,
                rollback_reviews,
                key={"deployment_id": deployment_id},
                values={
                    "unneeded": unneeded,
                    "reason": reason,
                    "reviewed_by": by,
                    "reviewed_at": mapping.ts(now),
                },
            )
        review = self.rollback_review(deployment_id)
        assert review is not None
        return review

    def _require_rollback(self, conn: Connection, deployment_id: str) -> None:
        found = conn.execute(
            select(rollbacks.c.id).where(
                rollbacks.c.deployment_id == deployment_id, rollbacks.c.state.in_(_ACTED)
            )
        ).first()
        if found is None:
            raise NotRolledBack(f"deployment {deployment_id!r} was never rolled back")

    def rollback_review(self, deployment_id: str) -> RollbackReview | None:
        stmt = select(rollback_reviews).where(rollback_reviews.c.deployment_id == deployment_id)
        with self._read() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return RollbackReview(
            deployment_id=row["deployment_id"],
            unneeded=bool(row["unneeded"]),
            reason=row["reason"],
            reviewed_by=row["reviewed_by"],
            reviewed_at=mapping.ts(row["reviewed_at"]),
        )

    def ledger(
        self, *, since: datetime, service: str | None = None, environment: str | None = None
    ) -> list[LedgerRow]:
        """One row per (service, environment) with deploys since `since`, sorted by name."""
        d, v = deployments.c, verifications.c
        since = mapping.ts(since)
        stmt = (
            select(d.id, d.service, d.environment, d.deployed_at, d.is_rollback, v.state, v.verdict)
            .join(verifications, and_(v.deployment_id == d.id, v.kind == "deploy"))
            .where(d.deployed_at >= since)
        )
        if service is not None:
            stmt = stmt.where(d.service == service)
        if environment is not None:
            stmt = stmt.where(d.environment == environment)
        out: dict[tuple[str, str], LedgerRow] = {}
        deployed: dict[str, tuple[str, str, datetime]] = {}
        with self._read() as conn:
            for dep_id, svc, env, at, is_rollback, state, verdict in conn.execute(stmt):
                row = out.setdefault((svc, env), LedgerRow(service=svc, environment=env))
                deployed[dep_id] = (svc, env, mapping.ts(at))
                if is_rollback:
                    continue  # a redeploy of an old artifact is not a change
                row.deploys += 1
                if verdict in ("passed", "failed", "inconclusive") or state == "promoted":
                    row.decided += 1
                if verdict == "failed" or state in _BAD:
                    row.failed += 1
                elif verdict == "inconclusive":
                    row.inconclusive += 1
            ids = list(deployed)
            for chunk in _chunks(ids, 500):
                self._count_rollbacks(conn, chunk, deployed, out)
        return [out[k] for k in sorted(out)]

    def _count_rollbacks(
        self,
        conn: Connection,
        ids: list[str],
        deployed: dict[str, tuple[str, str, datetime]],
        out: dict[tuple[str, str], LedgerRow],
    ) -> None:
        rb, t, rv = rollbacks.c, transitions.c, rollback_reviews.c
        rolled: set[str] = set()
        for dep_id, trigger, state in conn.execute(
            select(rb.deployment_id, rb.trigger, rb.state).where(rb.deployment_id.in_(ids))
        ):
            row = out[deployed[dep_id][:2]]
            if state == "refused":
                row.refused_rollbacks += 1
            elif state in _ACTED:
                rolled.add(dep_id)
                if trigger == "auto":
                    row.automatic_rollbacks += 1
                else:
                    row.manual_rollbacks += 1
                if state in ("failed", "verify_failed"):
                    row.rollbacks_failed += 1
        # The time from the bad deploy landing to its rollback being verified: the first rolled_back.
        first_done: dict[str, datetime] = {}
        for dep_id, at in conn.execute(
            select(t.deployment_id, t.at)
            .where(t.deployment_id.in_(ids), t.to_state == "rolled_back")
            .order_by(t.at)
        ):
            first_done.setdefault(dep_id, mapping.ts(at))
        for dep_id, done in first_done.items():
            svc, env, at = deployed[dep_id]
            out[(svc, env)].recovery_s.append(max(0.0, (done - at).total_seconds()))
        for (dep_id,) in conn.execute(
            select(rv.deployment_id).where(rv.deployment_id.in_(ids), rv.unneeded.is_(True))
        ):
            if dep_id in rolled:
                out[deployed[dep_id][:2]].unneeded += 1


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
