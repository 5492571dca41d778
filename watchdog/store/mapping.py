"""Row -> record conversion: SQLAlchemy result rows become the frozen records of store/records.py.

The one place that turns naive SQLite datetimes into aware UTC and normalises datetimes before they are bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def record_of(cls: type[R], **containers: Callable[[Any], Any]) -> Callable[[Row], R]:
    """The row -> record function of `cls`: its fields by column name, datetimes made aware UTC.

    `containers` names the JSON columns copied into a fresh dict or list (NULL becomes an empty one), so
    a record never shares a mutable value with the driver's row.
    """
    names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]

    def build(row: Row) -> R:
        fields = _fields(row, names)
        for name, kind in containers.items():
            fields[name] = kind(fields[name] or ())
        return cls(**fields)

    return build


deployment = record_of(DeploymentRow, labels=dict, policy=dict)
verification = record_of(VerificationRow, failed_checks=list, policy=dict)
sample = record_of(SampleRow, measurement=dict)
transition = record_of(TransitionRow)
rollback = record_of(RollbackRow)
stable = record_of(StableRow)
incident = record_of(IncidentRow)
freeze = record_of(FreezeRow)
operator_request = record_of(OperatorRequestRow)
delivery = record_of(DeliveryRow, response=dict)


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
