"""A stand-in for a source that could not be built (a missing API key): every sample says why, inconclusive.

So one missing token costs the checks that use it their conclusiveness, not the whole daemon its start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from watchdog.analysis.models import Measurement
from watchdog.sources.base import AnyCheck, SampleContext, Source


class UnavailableSource(Source):
    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        return Measurement(error=f"source '{self.name}' is unavailable: {self.reason}")


def degraded(sources: Mapping[str, Source]) -> dict[str, str]:
    """Name -> why, for every source running as a stand-in (shown by /readyz and `watchdog check`)."""
    return {name: s.reason for name, s in sorted(sources.items()) if isinstance(s, UnavailableSource)}
