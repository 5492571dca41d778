"""The inserts that start a verification and record a transition, shared by intake and the engine.

One place writes a fresh verification row (pending, nothing sampled, no lease) with its first transition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert

from watchdog.events import State
from watchdog.store import mapping
from watchdog.store.records import VerificationRow
from watchdog.store.schema import transitions, verifications

# Built once: a statement object built per event costs more in SQLAlchemy than the SQLite insert itself,
# while a constant one hits the compiled cache at once (its parameters are passed at execute time).
_INSERT_VERIFICATION = insert(verifications)
_INSERT_TRANSITION = insert(transitions)
# Every column a fresh row has unset is NULL (each one with a default is set explicitly below), so the
# record is built from the values written instead of being read back.
_VERIFICATION_NULLS = dict.fromkeys(verifications.c.keys())


def insert_transition(
    conn: Connection,
    *,
    verification_id: str,
    deployment_id: str,
    from_state: str | None,
    to_state: str,
    reason: str,
    now: datetime,
) -> None:
    params = {
        "verification_id": verification_id,
        "deployment_id": deployment_id,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "at": now,
    }
    conn.execute(_INSERT_TRANSITION, params)


def insert_verification(
    conn: Connection,
    *,
    verification_id: str,
    deployment_id: str,
    kind: str,
    version: str,
    artifact: str,
    starts_at: datetime,
    interval_s: float,
    samples_total: int,
    policy: dict[str, Any],
    first_sample_at: datetime,
    now: datetime,
    reason: str,
    transition_reason: str | None = None,
) -> VerificationRow:
    """A pending verification and its `None -> pending` transition (`transition_reason`, else `reason`).

    `now`, `starts_at` and `first_sample_at` must already be aware UTC (`mapping.ts`).
    """
    values = {
        "id": verification_id,
        "deployment_id": deployment_id,
        "kind": kind,
        "state": State.PENDING.value,
        "reason": reason,
        "failed_checks": [],
        "version": version,
        "artifact": artifact,
        "starts_at": starts_at,
        # As the Float/Integer columns read back: an int interval would otherwise serialise as `30`.
        "interval_s": float(interval_s),
        "samples_total": int(samples_total),
        "next_k": 1,
        "next_sample_at": first_sample_at,
        "policy": policy,
        "baseline": None,
        "lease_epoch": 0,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(_INSERT_VERIFICATION, values)
    insert_transition(
        conn,
        verification_id=verification_id,
        deployment_id=deployment_id,
        from_state=None,
        to_state=State.PENDING.value,
        reason=reason if transition_reason is None else transition_reason,
        now=now,
    )
    return mapping.verification(cast(Any, _VERIFICATION_NULLS | values))
