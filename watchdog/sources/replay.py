"""The replay source: answers samples and history from a scenario's recorded values instead of a live system.

Offsets are taken from the deploy being verified, so the same data replays against any deploy time.
"""

from __future__ import annotations

from datetime import datetime

from watchdog.analysis.models import Baseline, Measurement
from watchdog.scenario import Scenario
from watchdog.sources.base import AnyCheck, SampleContext


class ReplaySource:
    def __init__(self, scenario: Scenario, *, name: str = "replay") -> None:
        self.name = name
        self._scenario = scenario

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        t = (at - ctx.deployed_at).total_seconds()
        return self._scenario.measurement(check.name, t)

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        return self._scenario.baseline(
            check.name,
            start=(start - ctx.deployed_at).total_seconds(),
            end=(end - ctx.deployed_at).total_seconds(),
        )

    async def aclose(self) -> None:
        return None
