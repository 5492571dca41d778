"""The outbox worker's writes: claim pending actions, and complete one together with its effects.

Completing an action, its store effects and the actions it leads to is one transaction: done exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from watchdog.errors import StoreError
from watchdog.store import mapping
from watchdog.store.actions import ActionRow, ActionSpec, action_row, insert_actions
from watchdog.store.engine_repo import EngineRepo
from watchdog.store.schema import pending_actions, rollbacks, stable_artifacts

pa = pending_actions.c  # the columns every query here names


class Conflict(StoreError):
    """A write that another one already made (a second rollback of one deploy)."""


@dataclass(frozen=True)
class InsertRollback:
    values: dict[str, Any]  # every column of `rollbacks`, id included


@dataclass(frozen=True)
class UpdateRollback:
    rollback_id: str
    values: dict[str, Any]
    finished: bool = False


@dataclass(frozen=True)
class SetState:
    """A state change; skipped when the verification is no longer in `expect` (a Conflict if `required`)."""

    verification_id: str
    to_state: str
    reason: str
    expect: tuple[str, ...] | None = None
    required: bool = False


@dataclass(frozen=True)
class NewVerification:
    fields: dict[str, Any] = field(default_factory=dict)  # EngineRepo._insert_verification's arguments


@dataclass(frozen=True)
class MarkArtifact:
    service: str
    environment: str
    version: str
    artifact: str
    deployment_id: str | None
    status: str  # stable | bad
    reason: str


Effect = InsertRollback | UpdateRollback | SetState | NewVerification | MarkArtifact


def write_mark(conn: Connection, mark: MarkArtifact, *, now: datetime) -> None:
    """The artifact's one row per (service, environment, artifact): its latest mark wins."""
    EngineRepo._upsert(
        conn,
        stable_artifacts,
        key={"service": mark.service, "environment": mark.environment, "artifact": mark.artifact},
        values={
            "status": mark.status,
            "since": now,
            "deployment_id": mark.deployment_id,
            "version": mark.version,
            "reason": mark.reason,
        },
    )


class OutboxRepo(EngineRepo):
    def enqueue(self, specs: Sequence[ActionSpec], *, now: datetime) -> list[str]:
        with self._write() as conn:
            return insert_actions(conn, specs, now=now)

    def apply(self, *, effects: Sequence[Effect], follow_ups: Sequence[ActionSpec], now: datetime) -> None:
        """Effects and new actions in one transaction, outside any action (an operator's request)."""
        with self._write() as conn:
            for effect in effects:
                self._apply(conn, effect, now=mapping.ts(now))
            insert_actions(conn, follow_ups, now=now)

    def claim_actions(self, *, owner: str, now: datetime, lease_s: float, limit: int) -> list[ActionRow]:
        """Pending actions that are due and not held by a live instance, claimed for `owner`."""
        now = mapping.ts(now)
        return self._claim(
            pending_actions,
            where=[
                pa.state == "pending",
                or_(pa.not_before.is_(None), pa.not_before <= now),
                or_(pa.claimed_by.is_(None), pa.claimed_until < now, pa.claimed_by == owner),
            ],
            order=[pa.created_at, pa.id],
            limit=limit,
            values={"claimed_by": owner, "claimed_until": now + timedelta(seconds=lease_s)},
            build=action_row,
            peek=True,  # every tick interval, and mostly empty
            patient=True,
        )

    def renew_actions(self, *, owner: str, now: datetime, lease_s: float) -> int:
        until = mapping.ts(now) + timedelta(seconds=lease_s)
        with self._write(patient=True) as conn:
            result = conn.execute(
                update(pending_actions)
                .where(pa.claimed_by == owner, pa.state == "pending")
                .values(claimed_until=until)
            )
            return int(result.rowcount)

    def release_actions(self, *, owner: str) -> int:
        """At a clean stop: what this instance held is free for any replica at once."""
        with self._write() as conn:
            result = conn.execute(
                update(pending_actions)
                .where(pa.claimed_by == owner, pa.state == "pending")
                .values(claimed_by=None, claimed_until=None)
            )
            return int(result.rowcount)

    def begin_attempt(self, action_id: str, *, owner: str) -> int | None:
        """Counts an attempt durably before it is made (a target call, a send); None if it is not ours."""
        with self._write(patient=True) as conn:
            current = self._locked_action(conn, action_id)
            if current is None or current.state != "pending" or current.claimed_by != owner:
                return None
            attempts = int(current.attempts) + 1
            conn.execute(update(pending_actions).where(pa.id == action_id).values(attempts=attempts))
            return attempts

    def defer_action(self, action_id: str, *, owner: str, now: datetime, error: str, delay_s: float) -> None:
        """A failed attempt: try again after `delay_s`, by whoever holds it then."""
        with self._write(patient=True) as conn:
            conn.execute(
                update(pending_actions)
                .where(pa.id == action_id, pa.claimed_by == owner, pa.state == "pending")
                .values(
                    last_error=error[:2000],
                    not_before=mapping.ts(now) + timedelta(seconds=delay_s),
                    claimed_by=None,
                    claimed_until=None,
                )
            )

    def complete_action(
        self,
        action_id: str,
        *,
        owner: str,
        now: datetime,
        effects: Sequence[Effect] = (),
        follow_ups: Sequence[ActionSpec] = (),
        state: str = "done",
        error: str | None = None,
    ) -> bool:
        """Marks the action done with its effects and follow-ups, atomically; False if it was not ours."""
        now = mapping.ts(now)
        with self._write(patient=True) as conn:
            current = self._locked_action(conn, action_id)
            if current is None or current.state != "pending" or current.claimed_by != owner:
                return False
            for effect in effects:
                self._apply(conn, effect, now=now)
            insert_actions(conn, follow_ups, now=now)
            values: dict[str, Any] = {"state": state, "done_at": now, "claimed_until": None}
            if error is not None:
                values["last_error"] = error[:2000]
            conn.execute(update(pending_actions).where(pa.id == action_id).values(**values))
        return True

    def actions_for(self, deployment_id: str) -> list[ActionRow]:
        stmt = select(pending_actions).where(pa.deployment_id == deployment_id).order_by(pa.created_at, pa.id)
        with self._read() as conn:
            return self._all(conn, stmt, action_row)

    def open_action_count(self) -> int:
        stmt = select(func.count()).select_from(pending_actions).where(pa.state == "pending")
        with self._read() as conn:
            return int(conn.scalar(stmt) or 0)

    def _locked_action(self, conn: Connection, action_id: str) -> Any:
        stmt = select(pa.state, pa.claimed_by, pa.attempts).where(pa.id == action_id)
        return conn.execute(self._lock(stmt)).first()

    def _apply(self, conn: Connection, effect: Effect, *, now: datetime) -> None:
        if isinstance(effect, InsertRollback):
            values = {**effect.values, "requested_at": mapping.ts(effect.values["requested_at"])}
            if values["state"] == "intent":
                # Two concurrent requests make one rollback: the second finds the first one's row.
                rb = rollbacks.c
                taken = select(rb.id).where(
                    rb.deployment_id == values["deployment_id"], rb.state.not_in(("refused", "dry_run"))
                )
                if conn.execute(self._lock(taken)).first() is not None:
                    raise Conflict("this deploy was already rolled back once; never twice")
            if values.get("finished_at") is not None:
                values["finished_at"] = mapping.ts(values["finished_at"])
            conn.execute(insert(rollbacks).values(**values))
        elif isinstance(effect, UpdateRollback):
            values = dict(effect.values)
            if effect.finished:
                values["finished_at"] = now
            conn.execute(update(rollbacks).where(rollbacks.c.id == effect.rollback_id).values(**values))
        elif isinstance(effect, SetState):
            self._set_state_in(conn, effect, now=now)
        elif isinstance(effect, NewVerification):
            self._insert_verification(conn, **effect.fields)
        else:
            write_mark(conn, effect, now=now)

    def _set_state_in(self, conn: Connection, effect: SetState, *, now: datetime) -> None:
        current = self._locked_state(conn, effect.verification_id)
        if effect.expect is not None and current.state not in effect.expect:
            if effect.required:
                raise Conflict(f"the verification is {current.state}, not {' or '.join(effect.expect)}")
            return
        self._move(conn, current, to_state=effect.to_state, reason=effect.reason, now=now, values={})
