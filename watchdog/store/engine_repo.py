"""The engine's writes: fenced steps (samples + progress), state changes, rollback verifications, notes.

A step names the lease epoch it holds (lease_repo.py), so a replica that lost its lease writes nothing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from watchdog.errors import NotFound
from watchdog.events import FINAL, SAMPLING, State
from watchdog.store import mapping
from watchdog.store.actions import ActionSpec, insert_actions
from watchdog.store.db import transient
from watchdog.store.read_repo import ReadRepo
from watchdog.store.records import SampleRow, VerificationRow
from watchdog.store.schema import samples, verifications
from watchdog.store.verification_inserts import (
    TransitionFields,
    VerificationFields,
    insert_transition,
    insert_verification,
    state_name,
)

_SAMPLING = [s.value for s in SAMPLING]
_FINAL = [s.value for s in FINAL]
_STATE_FIELDS = frozenset({"verdict", "action", "decided_after_s", "failed_checks", "next_sample_at"})
v = verifications.c  # the columns every query here names
log = logging.getLogger(__name__)
_BATCH_ATTEMPTS = 3  # a deadlock met twice in a row is rare; a third is a store in trouble
_RETRY_PAUSE_S = 0.05  # long enough for the transaction that won to take its row and go on

# The hot path's statements, built once: values are bound at execution, so each comes from the
# compiled cache at once instead of being built (and its cache key computed) per step.
_LOCKED = select(v.state, v.deployment_id, v.lease_owner, v.lease_epoch).where(v.id == bindparam("vid"))
_LOCKED_PG = _LOCKED.with_for_update()
_LOCK_BATCH = select(v.id).where(v.id.in_(bindparam("ids", expanding=True))).order_by(v.id).with_for_update()
_INSERT_SAMPLES = sqlite_insert(samples).on_conflict_do_nothing(
    index_elements=[samples.c.verification_id, samples.c.check_name, samples.c.k]
)
_INSERT_SAMPLES_PG = pg_insert(samples).on_conflict_do_nothing(
    index_elements=[samples.c.verification_id, samples.c.check_name, samples.c.k]
)
_PROGRESS = (
    update(verifications)
    .where(v.id == bindparam("b_id"))
    .values(
        next_k=bindparam("b_next_k"), next_sample_at=bindparam("b_next_at"), updated_at=bindparam("b_updated")
    )
)


def leaving_sampling(to_state: str, now: datetime) -> dict[str, Any]:
    """Columns that change once a verification stops sampling: nothing is due, and it finished (once)."""
    if to_state in _SAMPLING:
        return {}
    return {"next_sample_at": None, "finished_at": func.coalesce(v.finished_at, now)}


class Step(TypedDict, total=False):
    """One step's write: its samples, its progress, its transition and what it obliges.

    `note`: a transition to the same state written with it (a gap the step found), in the same write.
    """

    verification_id: Required[str]
    owner: Required[str]
    epoch: Required[int]
    now: Required[datetime]
    samples: Required[list[SampleRow]]
    next_k: Required[int]
    next_sample_at: Required[datetime | None]
    baseline: dict[str, Any] | None
    transition: tuple[str, str] | None
    verdict: str | None
    action: str | None
    decided_after_s: float | None
    failed_checks: list[str] | None
    actions: Sequence[ActionSpec]
    starts_at: datetime | None
    note: str | None


class EngineRepo(ReadRepo):
    def record_step(self, **step: Unpack[Step]) -> bool:
        """One step in one transaction (fenced by the lease epoch: False when another holds it)."""
        with self._write() as conn:
            return self._record_step(conn, step)

    def record_steps(self, batch: Sequence[Step]) -> list[bool | Exception]:
        """Many steps in one transaction: one fsync for the whole batch.

        Each step has its own savepoint, so one that fails takes nothing else with it; the answers come
        back only after the COMMIT, so no step is reported written before it is durable. A deadlock or a
        serialization failure rolls the whole batch back and writes it again, after a pause: nothing of it
        was kept, and a retry at once can take a row back before the transaction that won wakes to take
        it, the same cycle a second time.
        """
        attempt = 1
        while True:
            try:
                return self._record_batch(batch, abort_on_transient=attempt < _BATCH_ATTEMPTS)
            except Exception as exc:  # the COMMIT (or the store) failed: nothing of the batch is kept
                kind = transient(exc)
                if kind is None or attempt == _BATCH_ATTEMPTS:
                    return [exc for _ in batch]
            attempt += 1
            log.warning("a batch of %d steps met a %s; written again (try %d)", len(batch), kind, attempt)
            time.sleep(_RETRY_PAUSE_S * attempt * random.uniform(0.5, 1.5))  # jitter: two victims part

    def _record_batch(self, batch: Sequence[Step], *, abort_on_transient: bool) -> list[bool | Exception]:
        results: list[bool | Exception] = []
        with self._write() as conn:
            if self._postgres:
                # The batch's rows locked at once, in id order (renew_leases locks in that order too), so
                # no other transaction can hold one of them while waiting for another (a deadlock).
                conn.execute(_LOCK_BATCH, {"ids": sorted({step["verification_id"] for step in batch})})
            for step in batch:
                try:
                    with conn.begin_nested():
                        results.append(self._record_step(conn, step))
                except (NotFound, SQLAlchemyError) as exc:
                    if abort_on_transient and transient(exc):
                        raise  # the whole transaction goes, so the batch can be written again as a whole
                    results.append(exc)
        return results

    def _record_step(self, conn: Connection, step: Step) -> bool:
        verification_id, owner, epoch = step["verification_id"], step["owner"], step["epoch"]
        now, note, transition = mapping.ts(step["now"]), step.get("note"), step.get("transition")
        current = conn.execute(_LOCKED_PG if self._postgres else _LOCKED, {"vid": verification_id}).first()
        if current is None:
            raise NotFound(f"no verification {verification_id!r}")
        if current.lease_owner != owner or current.lease_epoch != epoch or current.state in _FINAL:
            return False  # fenced out: another replica holds the lease, or the verification is over
        if step["samples"]:
            # The unique (verification, check, k) keeps a redone step from storing a sample twice.
            insert_samples = _INSERT_SAMPLES_PG if self._postgres else _INSERT_SAMPLES
            conn.execute(insert_samples, [mapping.sample_values(verification_id, x) for x in step["samples"]])
        if note is not None:
            self._from_current(conn, current, verification_id, to_state=current.state, reason=note, now=now)
        values: dict[str, Any] = {}
        for key in ("baseline", "verdict", "action", "decided_after_s"):
            if step.get(key) is not None:
                values[key] = step.get(key)
        if (starts_at := step.get("starts_at")) is not None:
            values["starts_at"] = mapping.ts(starts_at)
        if (failed := step.get("failed_checks")) is not None:
            values["failed_checks"] = list(failed)
        if transition is not None:
            to_state, reason = state_name(transition[0]), transition[1]
            values.update(state=to_state, reason=reason, **leaving_sampling(to_state, now))
            self._from_current(conn, current, verification_id, to_state=to_state, reason=reason, now=now)
        next_at = mapping.ts_opt(step["next_sample_at"])
        progress = {"b_id": verification_id, "b_next_k": step["next_k"], "b_next_at": next_at}
        if values:  # a start, a verdict or a state change: rare, built for what it sets
            stmt = _PROGRESS.values(**values)
            conn.execute(stmt, {**progress, "b_updated": now})
        else:  # the common step: one statement built once, from the compiled cache
            conn.execute(_PROGRESS, {**progress, "b_updated": now})
        insert_actions(conn, step.get("actions", ()), now=now)
        return True

    def set_state(
        self,
        *,
        verification_id: str,
        to_state: str,
        reason: str,
        now: datetime,
        expect_states: Collection[str] | None = None,
        **fields: Any,
    ) -> bool:
        unknown = set(fields) - _STATE_FIELDS
        if unknown:
            raise TypeError(f"set_state() got unexpected fields {sorted(unknown)}")
        now = mapping.ts(now)
        with self._write() as conn:
            current = self._locked_state(conn, verification_id)
            if expect_states is not None and current.state not in {state_name(s) for s in expect_states}:
                return False
            values: dict[str, Any] = dict(fields)
            if "next_sample_at" in values:
                values["next_sample_at"] = mapping.ts_opt(values["next_sample_at"])
            if values.get("failed_checks") is not None:
                values["failed_checks"] = list(values["failed_checks"])
            self._move(conn, current, to_state=to_state, reason=reason, now=now, values=values)
        return True

    def create_verification(self, **fields: Unpack[VerificationFields]) -> VerificationRow:
        with self._write() as conn:
            return self._insert_verification(conn, **fields)

    def _insert_verification(self, conn: Connection, **fields: Unpack[VerificationFields]) -> VerificationRow:
        self._require_deployment(conn, fields["deployment_id"])
        return insert_verification(conn, **fields)

    def unfinished_verifications(self) -> list[VerificationRow]:
        states = [*_SAMPLING, State.ROLLING_BACK.value]
        stmt = select(verifications).where(v.state.in_(states)).order_by(v.created_at, v.id)
        with self._read() as conn:
            return self._all(conn, stmt, mapping.verification)

    def add_transition(self, **fields: Unpack[TransitionFields]) -> None:
        with self._write() as conn:
            insert_transition(conn, **fields)

    @staticmethod
    def _move(
        conn: Connection, current: Any, *, to_state: str, reason: str, now: datetime, values: dict[str, Any]
    ) -> None:
        """A state change of the locked row `current`: `values` with the new state, and its transition.

        Leaving the sampling states also clears what is due and stamps `finished_at` (once).
        """
        to_state = state_name(to_state)
        changed = {**values, "state": to_state, "reason": reason, "updated_at": now}
        changed.update(leaving_sampling(to_state, now))
        conn.execute(update(verifications).where(v.id == current.id).values(**changed))
        insert_transition(
            conn,
            verification_id=current.id,
            deployment_id=current.deployment_id,
            from_state=current.state,
            to_state=to_state,
            reason=reason,
            now=now,
        )

    def _from_current(
        self,
        conn: Connection,
        current: Any,
        verification_id: str,
        *,
        to_state: str,
        reason: str,
        now: datetime,
    ) -> None:
        """A transition from the state `current` (the fenced read) holds."""
        insert_transition(
            conn,
            verification_id=verification_id,
            deployment_id=current.deployment_id,
            from_state=current.state,
            to_state=to_state,
            reason=reason,
            now=now,
        )

    def _locked_state(self, conn: Connection, verification_id: str) -> Any:
        stmt = select(v.id, v.state, v.deployment_id, v.lease_owner, v.lease_epoch).where(
            v.id == verification_id
        )
        row = conn.execute(self._lock(stmt)).first()
        if row is None:
            raise NotFound(f"no verification {verification_id!r}")
        return row
