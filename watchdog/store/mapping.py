"""Row -> record conversion: SQLAlchemy result rows become the frozen records of store/records.py.

The one place that turns naive SQLite datetimes into aware UTC and normalises datetimes before they are bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from watchdog.clock import utc
from watchdog.store.records import (
    DeliveryRow,
    DeploymentRow,
    FreezeRow,
    IncidentRow,
    OperatorRequestRow,
    RollbackRow,
    SampleRow,
    StableRow,
    TransitionRow,
    VerificationRow,
)

R = TypeVar("R")
# A result row by column name: SQLAlchemy's RowMapping or a plain dict built from one.
Row = Mapping[Any, Any]


def ts(value: datetime) -> datetime:
    """Aware UTC before binding: SQLite's DateTime drops the offset without converting, so convert first."""
    return utc(value)


def ts_opt(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def _fields(row: Row, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = row[name]
        out[name] = utc(value) if isinstance(value, datetime) else value
    return out


def _build(cls: type[R], row: Row) -> R:
    names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    return cls(**_fields(row, names))


def deployment(row: Row) -> DeploymentRow:
    d = _fields(row, tuple(DeploymentRow.__dataclass_fields__))
    d["labels"] = dict(d["labels"] or {})
    d["policy"] = dict(d["policy"] or {})
    return DeploymentRow(**d)


def verification(row: Row) -> VerificationRow:
    d = _fields(row, tuple(VerificationRow.__dataclass_fields__))
    d["failed_checks"] = list(d["failed_checks"] or [])
    d["policy"] = dict(d["policy"] or {})
    return VerificationRow(**d)


def sample(row: Row) -> SampleRow:
    d = _fields(row, tuple(SampleRow.__dataclass_fields__))
    d["measurement"] = dict(d["measurement"] or {})
    return SampleRow(**d)


def transition(row: Row) -> TransitionRow:
    return _build(TransitionRow, row)


def rollback(row: Row) -> RollbackRow:
    return _build(RollbackRow, row)


def stable(row: Row) -> StableRow:
    return _build(StableRow, row)


def incident(row: Row) -> IncidentRow:
    return _build(IncidentRow, row)


def freeze(row: Row) -> FreezeRow:
    return _build(FreezeRow, row)


def operator_request(row: Row) -> OperatorRequestRow:
    return _build(OperatorRequestRow, row)


def delivery(row: Row) -> DeliveryRow:
    d = _fields(row, tuple(DeliveryRow.__dataclass_fields__))
    d["response"] = dict(d["response"] or {})
    return DeliveryRow(**d)


def sample_values(verification_id: str, s: SampleRow) -> dict[str, Any]:
    """Column values of one sample row, bound to `verification_id` whatever the record says."""
    return {
        "verification_id": verification_id,
        "check_name": s.check_name,
        "k": s.k,
        "t": s.t,
        "taken_at": ts(s.taken_at),
        "outcome": s.outcome,
        "reason": s.reason,
        "observed": s.observed,
        "warmup": s.warmup,
        "measurement": dict(s.measurement),
    }
