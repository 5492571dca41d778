"""The contract of a metric source: sample one check at one instant, and optionally its history.

A source never raises through the engine: every upstream problem becomes `Measurement(error=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from watchdog.analysis.models import Baseline, Measurement
from watchdog.policy.checks import ErrorRateCheck, HttpCheck, LatencyCheck, MetricCheck

AnyCheck = HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck


@dataclass(frozen=True)
class SampleContext:
    """What a check is sampled for; fills `{{ version }}` and the like, scopes Sentry by release."""

    deployment_id: str
    verification_id: str
    service: str
    environment: str
    version: str
    artifact: str
    deployed_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    stable_version: str = ""  # the newest verified stable release, for control queries
    stable_artifact: str = ""
    previous_version: str = ""  # as the event said

    def placeholders(self) -> dict[str, str]:
        out = {
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "artifact": self.artifact,
            "deployment_id": self.deployment_id,
        }
        # Unknown ones stay unfilled: a control query naming no stable version must find no data, not all.
        extra = {
            "stable_version": self.stable_version,
            "stable_artifact": self.stable_artifact,
            "previous_version": self.previous_version,
        }
        out.update({k: v for k, v in extra.items() if v})
        return out


@runtime_checkable
class Source(Protocol):
    """Everything the engine calls on a source; subclass it to inherit the no-op defaults.

    The engine calls `prime` when a verification starts on time (and again when a replica takes it over),
    not when it starts late enough to sample at once; `sample` once per interval, `history` for the
    baseline, `forget` when the verification ends.
    """

    name: str

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        """The check's value(s) for the interval ending at `at` (counts over `interval` seconds)."""
        ...

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        """Per-interval values over [start, end) for the baseline; None when the source keeps no history."""
        return None

    async def prime(self, check: AnyCheck, ctx: SampleContext) -> Measurement | None:
        """Takes a first reading for `ctx.verification_id`, for sources that measure from a previous read."""
        return None

    def forget(self, verification_id: str) -> None:
        """Drops whatever the source keeps for a verification that has ended."""
        return None

    async def aclose(self) -> None:
        """Releases the source's connections; the daemon calls it once, on shutdown or replacement."""
        return None
