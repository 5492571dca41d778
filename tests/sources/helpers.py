"""Shared helpers of the source tests: a sample context and check builders.

Kept out of conftest so the tests import exactly what they use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from watchdog.policy.checks import Check
from watchdog.sources.base import AnyCheck, SampleContext

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_CHECK: TypeAdapter[AnyCheck] = TypeAdapter(Check)


def ctx(*, version: str = "1.2.0", verification_id: str = "v1", **labels: str) -> SampleContext:
    return SampleContext(
        deployment_id="d1",
        verification_id=verification_id,
        service="checkout",
        environment="production",
        version=version,
        artifact=f"registry.example/checkout:{version}",
        deployed_at=NOW,
        labels=dict(labels),
    )


def check(**fields: Any) -> AnyCheck:
    fields.setdefault("name", "c")
    return _CHECK.validate_python(fields)
