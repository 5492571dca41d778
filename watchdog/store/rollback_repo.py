"""Rollback rows: the intent written before a target is called, its progress, and the counts guard rails need.

An `intent` or `verifying` row after a crash is work to resume (open_rollbacks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from watchdog.errors import NotFound
from watchdog.store import rows
from watchdog.store.base import StoreBase, new_id
from watchdog.store.records import RollbackRow
from watchdog.store.tables import deployments, rollbacks

_NOT_COUNTED = ("refused", "dry_run")  # nothing was done, so the hourly limit does not spend them
_OPEN = ("intent", "verifying")
rb = rollbacks.c  # the columns every query here names


class RollbackRepo(StoreBase):
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
            if (
                conn.execute(select(deployments.c.id).where(deployments.c.id == deployment_id)).first()
                is None
            ):
                raise NotFound(f"no deployment {deployment_id!r}")
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
                    requested_at=rows.ts(now),
                )
            )
            return self._one(conn, select(rollbacks).where(rb.id == rollback_id), rows.rollback, rollback_id)

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
            values["finished_at"] = rows.ts(now)
        with self._write() as conn:
            if values:
                result = conn.execute(update(rollbacks).where(rb.id == rollback_id).values(**values))
                if not result.rowcount:
                    raise NotFound(f"no rollback {rollback_id!r}")
            return self._one(
                conn,
                select(rollbacks).where(rb.id == rollback_id),
                rows.rollback,
                f"no rollback {rollback_id!r}",
            )

    def rollbacks_for(self, deployment_id: str) -> list[RollbackRow]:
        stmt = select(rollbacks).where(rb.deployment_id == deployment_id).order_by(rb.requested_at, rb.id)
        with self._read() as conn:
            return self._all(conn, stmt, rows.rollback)

    def get_rollback(self, rollback_id: str) -> RollbackRow:
        with self._read() as conn:
            return self._one(
                conn,
                select(rollbacks).where(rb.id == rollback_id),
                rows.rollback,
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
                rb.requested_at >= rows.ts(since),
            )
        )
        with self._read() as conn:
            return int(conn.scalar(stmt) or 0)

    def open_rollbacks(self) -> list[RollbackRow]:
        stmt = select(rollbacks).where(rb.state.in_(_OPEN)).order_by(rb.requested_at, rb.id)
        with self._read() as conn:
            return self._all(conn, stmt, rows.rollback)
