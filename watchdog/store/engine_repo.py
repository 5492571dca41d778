"""The engine's writes: fenced steps (samples + progress), state changes, rollback verifications, notes.

A step names the lease epoch it holds (lease_repo.py), so a replica that lost its lease writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Unpack

from sqlalchemy import Connection, func, insert, select, update

from watchdog.errors import NotFound
from watchdog.events import FINAL, SAMPLING, State
from watchdog.store import mapping
from watchdog.store.actions import ActionSpec, insert_actions
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


def leaving_sampling(to_state: str, now: datetime) -> dict[str, Any]:
    """Columns that change once a verification stops sampling: nothing is due, and it finished (once)."""
    if to_state in _SAMPLING:
        return {}
    return {"next_sample_at": None, "finished_at": func.coalesce(v.finished_at, now)}


class EngineRepo(ReadRepo):
    def record_step(
        self,
        *,
        verification_id: str,
        owner: str,
        epoch: int,
        now: datetime,
        samples: list[SampleRow],
        next_k: int,
        next_sample_at: datetime | None,
        baseline: dict[str, Any] | None = None,
        transition: tuple[str, str] | None = None,
        verdict: str | None = None,
        action: str | None = None,
        decided_after_s: float | None = None,
        failed_checks: list[str] | None = None,
        actions: Sequence[ActionSpec] = (),
        starts_at: datetime | None = None,
    ) -> bool:
        """One step in one transaction: its samples, its progress, its transition and what it obliges."""
        now = mapping.ts(now)
        with self._write() as conn:
            current = self._locked_state(conn, verification_id)
            if current.lease_owner != owner or current.lease_epoch != epoch or current.state in _FINAL:
                return False  # fenced out: another replica holds the lease, or the verification is over
            self._insert_samples(conn, verification_id, samples)
            values: dict[str, Any] = {
                "next_k": next_k,
                "next_sample_at": mapping.ts_opt(next_sample_at),
                "updated_at": now,
            }
            if baseline is not None:
                values["baseline"] = baseline
            if starts_at is not None:
                values["starts_at"] = mapping.ts(starts_at)
            optional = {"verdict": verdict, "action": action, "decided_after_s": decided_after_s}
            values.update({key: value for key, value in optional.items() if value is not None})
            if failed_checks is not None:
                values["failed_checks"] = list(failed_checks)
            if transition is None:
                conn.execute(update(verifications).where(v.id == verification_id).values(**values))
            else:
                self._move(
                    conn, current, to_state=transition[0], reason=transition[1], now=now, values=values
                )
            insert_actions(conn, actions, now=now)
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

    def _locked_state(self, conn: Connection, verification_id: str) -> Any:
        stmt = select(v.id, v.state, v.deployment_id, v.lease_owner, v.lease_epoch).where(
            v.id == verification_id
        )
        row = conn.execute(self._lock(stmt)).first()
        if row is None:
            raise NotFound(f"no verification {verification_id!r}")
        return row

    @staticmethod
    def _insert_samples(conn: Connection, verification_id: str, new: list[SampleRow]) -> None:
        """Inserts the samples not stored yet: a redone step must not duplicate (verification, check, k)."""
        if not new:
            return
        s = samples.c
        keys = {(x.check_name, x.k) for x in new}
        found = conn.execute(
            select(s.check_name, s.k).where(
                s.verification_id == verification_id, s.k.in_(sorted({k for _, k in keys}))
            )
        )
        existing = {(str(name), int(k)) for name, k in found}
        fresh: dict[tuple[str, int], dict[str, Any]] = {}
        for x in new:
            if (x.check_name, x.k) not in existing:
                fresh.setdefault((x.check_name, x.k), mapping.sample_values(verification_id, x))
        if fresh:
            conn.execute(insert(samples), list(fresh.values()))
