"""Runs a backtest: prepares every past deploy (history fetched concurrently), then replays each one.

Replaying goes through `watchdog.simulate.simulate`, the function `watchdog simulate` runs per scenario.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from watchdog.analysis import Verdict
from watchdog.backtest.build import Builder, Prepared
from watchdog.backtest.deploys import PastDeploy
from watchdog.backtest.history import HistoryFetcher
from watchdog.policy.service import EnvironmentPolicy
from watchdog.simulate import simulate
from watchdog.sources.base import Source


@dataclass(frozen=True)
class Replayed:
    """One deploy's row: the replayed verdict (None: not replayable) beside what was recorded."""

    deploy: PastDeploy
    verdict: Verdict | None
    action: str | None = None
    decided_after_s: float | None = None
    failed_checks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    why_not: str | None = None

    @property
    def reason(self) -> str:
        """One sentence for the table: why not replayable, or the decision's reasons, then checks left out."""
        parts = [self.why_not] if self.why_not else list(self.reasons)
        parts += [f"{name}: {why}" for name, why in self.skipped.items()]
        return "; ".join(p for p in parts if p)


async def prepare_all(
    deploys: Sequence[PastDeploy],
    *,
    policy: EnvironmentPolicy,
    sources: Mapping[str, Source],
    service: str,
    environment: str,
    now: datetime,
    fetcher: HistoryFetcher | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Prepared]:
    """Every deploy's replay data, in the order given; fetches overlap, bounded by the fetcher."""
    builder = Builder(
        policy=policy,
        sources=sources,
        fetcher=fetcher or HistoryFetcher(),
        service=service,
        environment=environment,
        now=now,
    )
    done = 0

    async def one(i: int) -> Prepared:
        nonlocal done
        cut = _superseded(deploys, i, duration=policy.verification.duration)
        prepared = (
            Prepared(deploys[i], why_not=cut)
            if cut
            else await builder.prepare(deploys[i], stable=_stable_before(deploys, i))
        )
        done += 1
        if progress is not None:
            progress(done, len(deploys))
        return prepared

    return list(await asyncio.gather(*(one(i) for i in range(len(deploys)))))


def replay(prepared: Sequence[Prepared], policy: EnvironmentPolicy) -> list[Replayed]:
    """Each prepared deploy through the judging rules with `policy` (cheap: no I/O, run per candidate)."""
    out: list[Replayed] = []
    for p in prepared:
        scenario = p.scenario(policy)
        if scenario is None:
            out.append(Replayed(deploy=p.deploy, verdict=None, skipped=p.skipped, why_not=p.why_not))
            continue
        result = simulate(scenario)
        out.append(
            Replayed(
                deploy=p.deploy,
                verdict=result.verdict,
                action=result.action,
                decided_after_s=result.decided_after_s,
                failed_checks=result.failed_checks,
                reasons=result.reasons,
                skipped=p.skipped,
            )
        )
    return out


def _superseded(deploys: Sequence[PastDeploy], i: int, *, duration: float) -> str | None:
    """Why the window was cut short: the next deploy landed inside it (the daemon stops verifying there)."""
    here = deploys[i].deployed_at
    for d in deploys[i + 1 :]:
        after = (d.deployed_at - here).total_seconds()
        if after >= duration:
            return None
        if after > 0:
            return f"superseded by {d.version} {after:g} s after the deploy, inside its {duration:g} s window"
    return None


def _stable_before(deploys: Sequence[PastDeploy], i: int) -> PastDeploy | None:
    """The newest earlier deploy that was good: labelled good, or recorded passed, or not known bad."""
    for d in reversed(deploys[:i]):
        if d.label == "bad" or (d.recorded is not None and d.recorded.outcome in {"failed", "rolled_back"}):
            continue
        return d
    return None
