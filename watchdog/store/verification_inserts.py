"""The inserts that start a verification and record a transition, shared by intake and the engine.

One place writes a fresh verification row (pending, nothing sampled, no lease) with its first transition.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any, NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Connection, insert

from watchdog.events import State
from watchdog.store import mapping
from watchdog.store.base import new_id
from watchdog.store.records import VerificationRow
from watchdog.store.schema import transitions, verifications

# Built once: a statement object built per event costs more in SQLAlchemy than the SQLite insert itself,
# while a constant one hits the compiled cache at once (its parameters are passed at execute time).
_INSERT_VERIFICATION = insert(verifications)
_INSERT_TRANSITION = insert(transitions)
# Every column a fresh row has unset is NULL (each one with a default is set explicitly below), so the
# record is built from the values written instead of being read back.
_VERIFICATION_NULLS = dict.fromkeys(verifications.c.keys())


def state_name(state: str) -> str:
    """Plain text for a state given as `State` or str; drivers may dump an Enum by its name, not its value."""
    return str(state.value) if isinstance(state, Enum) else str(state)


class TransitionFields(TypedDict):
    """One row of a verification's history: the keywords of `insert_transition` (and add_transition)."""

    verification_id: str
    deployment_id: str
    from_state: str | None  # None for the first transition, into pending
    to_state: str
    reason: str
    now: datetime


def insert_transition(conn: Connection, **fields: Unpack[TransitionFields]) -> None:
    from_state = fields["from_state"]
    params = {
        "verification_id": fields["verification_id"],
        "deployment_id": fields["deployment_id"],
        "from_state": None if from_state is None else state_name(from_state),
        "to_state": state_name(fields["to_state"]),
        "reason": fields["reason"],
        "at": mapping.ts(fields["now"]),
    }
    conn.execute(_INSERT_TRANSITION, params)


class VerificationFields(TypedDict):
    """What a new verification is made of: the keywords of `insert_verification` (and create_verification)."""

    deployment_id: str
    kind: str  # deploy | rollback
    version: str
    artifact: str
    starts_at: datetime
    interval_s: float
    samples_total: int
    policy: dict[str, Any]
    now: datetime
    reason: str
    verification_id: NotRequired[str]
    first_sample_at: NotRequired[datetime]  # when sample 1 is due; one interval after starts_at by default
    transition_reason: NotRequired[str]  # the first transition's reason, when it is not `reason`


def insert_verification(conn: Connection, **fields: Unpack[VerificationFields]) -> VerificationRow:
    """A pending verification and its `None -> pending` transition, as one record (nothing is read back)."""
    now, starts_at = mapping.ts(fields["now"]), mapping.ts(fields["starts_at"])
    # As the Float/Integer columns read back: an int interval would otherwise serialise as `30`.
    interval_s, reason = float(fields["interval_s"]), fields["reason"]
    first = fields.get("first_sample_at")
    verification_id = fields.get("verification_id") or new_id()
    values = {
        "id": verification_id,
        "deployment_id": fields["deployment_id"],
        "kind": fields["kind"],
        "state": State.PENDING.value,
        "reason": reason,
        "failed_checks": [],
        "version": fields["version"],
        "artifact": fields["artifact"],
        "starts_at": starts_at,
        "interval_s": interval_s,
        "samples_total": int(fields["samples_total"]),
        "next_k": 1,
        "next_sample_at": starts_at + timedelta(seconds=interval_s) if first is None else mapping.ts(first),
        "policy": fields["policy"],
        "baseline": None,
        "lease_epoch": 0,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(_INSERT_VERIFICATION, values)
    insert_transition(
        conn,
        verification_id=verification_id,
        deployment_id=fields["deployment_id"],
        from_state=None,
        to_state=State.PENDING.value,
        reason=fields.get("transition_reason", reason),
        now=now,
    )
    return mapping.verification(cast(Any, _VERIFICATION_NULLS | values))
