"""Pending actions (the outbox): the record of one obligation and the insert the verdict's transaction makes.

Shared by engine_repo (a verdict writes its actions) and outbox_repo (the worker claims and completes them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from watchdog.clock import utc
from watchdog.store import mapping
from watchdog.store.schema import pending_actions


@dataclass(frozen=True)
class ActionSpec:
    """One obligation to write: `kind` names the handler, `payload` is plain JSON for it."""

    kind: str
    deployment_id: str
    verification_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None  # given when a later write must name it; otherwise a fresh id


@dataclass(frozen=True)
class ActionRow:
    id: str
    deployment_id: str
    verification_id: str | None
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


def action_row(row: Mapping[Any, Any]) -> ActionRow:
    return ActionRow(
        id=str(row["id"]),
        deployment_id=str(row["deployment_id"]),
        verification_id=row["verification_id"],
        kind=str(row["kind"]),
        payload=dict(row["payload"] or {}),
        state=str(row["state"]),
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        created_at=utc(row["created_at"]),
        done_at=None if row["done_at"] is None else utc(row["done_at"]),
    )


def action_id() -> str:
    """Ids that sort in the order they were made (claims and listings follow it), unique like a uuid."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def insert_actions(conn: Connection, specs: Sequence[ActionSpec], *, now: datetime) -> list[str]:
    """Inserts pending actions inside the caller's transaction; returns their ids in order."""
    ids = [spec.id or action_id() for spec in specs]
    if specs:
        conn.execute(
            insert(pending_actions),
            [
                {
                    "id": action_id,
                    "deployment_id": spec.deployment_id,
                    "verification_id": spec.verification_id,
                    "kind": spec.kind,
                    "payload": dict(spec.payload),
                    "state": "pending",
                    "attempts": 0,
                    "created_at": mapping.ts(now),
                }
                for action_id, spec in zip(ids, specs, strict=True)
            ],
        )
    return ids
