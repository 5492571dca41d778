"""Rollback rows: the intent written before a target is called, its progress, and the counts guard rails need.

An `intent` or `verifying` row after a crash is work to resume (open_rollbacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from watchdog.errors import NotFound
from watchdog.store import mapping
from watchdog.store.base import new_id
from watchdog.store.history_repo import rollback_candidate_in
from watchdog.store.read_repo import ReadRepo
from watchdog.store.records import DeploymentRow, FreezeRow, RollbackRow, StableRow
from watchdog.store.schema import deployments, freezes, rollbacks

_NOT_COUNTED = ("refused", "dry_run")  # nothing was done, so the hourly limit does not spend them
_OPEN = ("intent", "verifying")
rb = rollbacks.c  # the columns every query here names


@dataclass(frozen=True)
class RollbackFacts:
    """Everything the guard rails weigh, read in one transaction so they agree with each other."""

    deployment: DeploymentRow
    candidate: StableRow | None  # the newest verified (or assumed) stable artifact other than this one
    previous: list[RollbackRow]  # this deployment's rollbacks so far
    recent_auto: int  # automatic rollbacks of the service+environment since `since`
    freeze: FreezeRow | None
    newer: DeploymentRow | None  # a later deploy of the same service+environment, if one arrived


class RollbackRepo(ReadRepo):
    def rollback_facts(self, deployment_id: str, *, since: datetime, now: datetime) -> RollbackFacts:
        d, fz = deployments.c, freezes.c
        with self._read() as conn:
            dep = self._get_deployment(conn, deployment_id)
            where = (d.service == dep.service, d.environment == dep.environment)
            candidate = rollback_candidate_in(
                conn, service=dep.service, environment=dep.environment, exclude_artifact=dep.artifact
            )
            previous = self._all(
                conn,
                select(rollbacks).where(rb.deployment_id == dep.id).order_by(rb.requested_at, rb.id),
                mapping.rollback,
            )
            recent = conn.scalar(
                select(func.count())
                .select_from(rollbacks)
                .where(
                    rb.service == dep.service,
                    rb.environment == dep.environment,
                    rb.trigger == "auto",
                    rb.state.not_in(_NOT_COUNTED),
                    rb.requested_at >= mapping.ts(since),
                )
            )
            freeze = self._first(
                conn,
                select(freezes).where(
                    fz.service == dep.service,
                    fz.environment == dep.environment,
                    or_(fz.expires_at.is_(None), fz.expires_at > mapping.ts(now)),
                ),
                mapping.freeze,
            )
            latest = self._first(
                conn,
                select(deployments).where(*where).order_by(d.received_at.desc(), d.id.desc()).limit(1),
                mapping.deployment,
            )
        newer = latest if latest is not None and latest.id != dep.id else None
        return RollbackFacts(
            deployment=dep,
            candidate=candidate,
            previous=previous,
            recent_auto=int(recent or 0),
            freeze=freeze,
            newer=newer,
        )

    def create_rollback(
        self,
        *,
        deployment_id: str,
        service: str,
        environment: str,
        trigger: str,
        state: str,
        reason: str,
        target: str | None,
        from_version: str,
        from_artifact: str,
        to_version: str | None,
        to_artifact: str | None,
        now: datetime,
    ) -> RollbackRow:
        rollback_id = new_id()
        with self._write() as conn:
            self._require_deployment(conn, deployment_id)
            conn.execute(
                insert(rollbacks).values(
                    id=rollback_id,
                    deployment_id=deployment_id,
                    service=service,
                    environment=environment,
                    trigger=trigger,
                    state=state,
                    reason=reason,
                    target=target,
                    from_version=from_version,
                    from_artifact=from_artifact,
                    to_version=to_version,
                    to_artifact=to_artifact,
                    output="",
                    attempts=0,
                    requested_at=mapping.ts(now),
                )
            )
            return self._one(
                conn, select(rollbacks).where(rb.id == rollback_id), mapping.rollback, rollback_id
            )

    def update_rollback(
        self,
        *,
        rollback_id: str,
        now: datetime,
        state: str | None = None,
        reason: str | None = None,
        output: str | None = None,
        attempts: int | None = None,
        verification_id: str | None = None,
        finished: bool = False,
    ) -> RollbackRow:
        given = {
            "state": state,
            "reason": reason,
            "output": output,
            "attempts": attempts,
            "verification_id": verification_id,
        }
        values: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
        if finished:
            values["finished_at"] = mapping.ts(now)
        with self._write() as conn:
            if values:
                result = conn.execute(update(rollbacks).where(rb.id == rollback_id).values(**values))
                if not result.rowcount:
                    raise NotFound(f"no rollback {rollback_id!r}")
            return self._one(
                conn,
                select(rollbacks).where(rb.id == rollback_id),
                mapping.rollback,
                f"no rollback {rollback_id!r}",
            )

    def rollbacks_for(self, deployment_id: str) -> list[RollbackRow]:
        stmt = select(rollbacks).where(rb.deployment_id == deployment_id).order_by(rb.requested_at, rb.id)
        with self._read() as conn:
            return self._all(conn, stmt, mapping.rollback)

    def get_rollback(self, rollback_id: str) -> RollbackRow:
        with self._read() as conn:
            return self._one(
                conn,
                select(rollbacks).where(rb.id == rollback_id),
                mapping.rollback,
                f"no rollback {rollback_id!r}",
            )

    def count_rollbacks_since(
        self, *, service: str, environment: str, since: datetime, trigger: str = "auto"
    ) -> int:
        stmt = (
            select(func.count())
            .select_from(rollbacks)
            .where(
                rb.service == service,
                rb.environment == environment,
                rb.trigger == trigger,
                rb.state.not_in(_NOT_COUNTED),
                rb.requested_at >= mapping.ts(since),
            )
        )
        with self._read() as conn:
            return int(conn.scalar(stmt) or 0)

    def open_rollbacks(self) -> list[RollbackRow]:
        stmt = select(rollbacks).where(rb.state.in_(_OPEN)).order_by(rb.requested_at, rb.id)
        with self._read() as conn:
            return self._all(conn, stmt, mapping.rollback)
