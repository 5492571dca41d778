"""One past deploy as a scenario: per check, per role, [seconds from deploy_at, value] from history.

Checks whose source keeps history read it; http and scrape checks read the samples the store kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from watchdog.analysis.models import Baseline, Measurement
from watchdog.backtest.deploys import PastDeploy
from watchdog.backtest.history import HistoryFetcher
from watchdog.engine.control import control_twin
from watchdog.policy.checks import ROLES
from watchdog.policy.service import EnvironmentPolicy
from watchdog.scenario import Scenario, Series
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.ranges import Grid, RangeSource, RangeValues, grid_of
from watchdog.sources.registry import source_for

WEEK = 604800.0
Points = list[tuple[float, float | None]]


@dataclass(frozen=True)
class Prepared:
    """A deploy's replay data, or why it cannot be replayed (`why_not`), and checks left out with reasons."""

    deploy: PastDeploy
    data: Mapping[str, Mapping[str, Series]] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    why_not: str | None = None

    def scenario(self, policy: EnvironmentPolicy) -> Scenario | None:
        """The scenario `simulate` runs: the policy's checks that have data, nothing else."""
        if self.why_not is not None:
            return None
        checks = [c for c in policy.checks if c.name in self.data]
        return Scenario(
            name=f"{self.deploy.version} at {self.deploy.deployed_at.isoformat()}",
            path="backtest",
            deploy_at=self.deploy.deployed_at,
            policy=policy.model_copy(update={"checks": checks}),
            data={c.name: self.data[c.name] for c in checks},
        )


@dataclass
class Builder:
    policy: EnvironmentPolicy
    sources: Mapping[str, Source]
    fetcher: HistoryFetcher
    service: str
    environment: str
    now: datetime

    async def prepare(self, deploy: PastDeploy, *, stable: PastDeploy | None = None) -> Prepared:
        v = self.policy.verification
        if deploy.deployed_at.timestamp() + v.duration > self.now.timestamp():
            return Prepared(deploy, why_not="its verification window is not over yet")
        ctx = SampleContext(
            deployment_id=deploy.recorded.deployment_id if deploy.recorded else "backtest",
            verification_id="backtest",
            service=self.service,
            environment=self.environment,
            version=deploy.version,
            artifact=deploy.artifact,
            deployed_at=deploy.deployed_at,
        )
        results = await asyncio.gather(*(self._check(c, deploy, ctx, stable) for c in self.policy.checks))
        data: dict[str, dict[str, Series]] = {}
        skipped: dict[str, str] = {}
        for check, (roles, why, fatal) in zip(self.policy.checks, results, strict=True):
            if fatal:
                return Prepared(deploy, why_not=f"check {check.name}: {why}")
            if roles is None:
                skipped[check.name] = why
            else:
                data[check.name] = roles
        if not data:
            return Prepared(
                deploy,
                skipped=skipped,
                why_not="no check can be replayed: "
                + "; ".join(f"{name}: {why}" for name, why in skipped.items()),
            )
        return Prepared(deploy, data=data, skipped=skipped)

    async def _check(
        self, check: AnyCheck, deploy: PastDeploy, ctx: SampleContext, stable: PastDeploy | None
    ) -> tuple[dict[str, Series] | None, str, bool]:
        """(role -> series, why not, whether that makes the whole deploy not replayable)."""
        source = source_for(check, self.sources)
        if not isinstance(source, RangeSource):  # http and scrape keep no history of their own
            return self._stored(check, deploy)
        v = self.policy.verification
        grid = grid_of(
            deployed_at=deploy.deployed_at, before=v.baseline_window, after=v.duration, interval=v.interval
        )
        got = await self._range(source, check, grid=grid, ctx=ctx)
        if isinstance(got, str):
            return None, f"{source.name}: {got}", True
        why = _too_little(got, check=check, window=v.baseline_window, source=source.name)
        if why:
            return None, why, True
        compare = getattr(getattr(check, "baseline", None), "compare_to", None)
        if compare == "last_week":
            # The rules read last week from the deploy's time on, for a baseline_window's length.
            week = grid_of(
                deployed_at=deploy.deployed_at - timedelta(seconds=WEEK),
                before=v.baseline_window,
                after=max(v.duration, v.baseline_window),
                interval=v.interval,
            )
            past = await self._range(source, check, grid=week, ctx=ctx)
            if not isinstance(past, str):  # missing: the rules fall back to `before` and say so
                for role, points in past.items():  # already at t - 604800 s from the deploy
                    got[role] = points + got[role]
        twin = control_twin(check)
        if twin is not None:
            await self._control(twin, got, grid=grid, ctx=ctx, stable=stable)
        return {role: _series(points) for role, points in got.items()}, "", False

    async def _range(
        self, source: RangeSource, check: AnyCheck, *, grid: Grid, ctx: SampleContext
    ) -> dict[str, Points] | str:
        """role -> points at seconds from the deploy; a Sentry-like source reads the baseline unscoped."""
        deploy_ts = ctx.deployed_at.timestamp()
        if getattr(source, "scopes_release", False):
            before = sum(1 for t in grid.times if t < deploy_ts)
            parts = [
                (Grid(grid.start, grid.interval, before), False),
                (Grid(grid.start + before * grid.interval, grid.interval, grid.count - before), True),
            ]
        else:
            parts = [(grid, True)]
        answers: list[RangeValues] = await asyncio.gather(
            *(
                self.fetcher.fetch(source, check, grid=g, ctx=ctx, release_scoped=s)
                for g, s in parts
                if g.count
            )
        )
        out: dict[str, Points] = {}
        for answer in answers:
            if answer.error:
                return answer.error
            for role, values in answer.values.items():
                out.setdefault(role, []).extend(
                    (round(t - deploy_ts, 6), v) for t, v in zip(answer.grid.times, values, strict=True)
                )
        return out

    async def _control(
        self,
        twin: AnyCheck,
        got: dict[str, Points],
        *,
        grid: Grid,
        ctx: SampleContext,
        stable: PastDeploy | None,
    ) -> None:
        """control_<role> at the same times: the stable version's queries, `{{ stable_version }}` filled."""
        source = source_for(twin, self.sources)  # the twin names the control's source, as it does live
        if not isinstance(source, RangeSource) or stable is None:
            return  # no control data: the rules compare with `before` and say so
        if not {"stable_version", "stable_artifact"} <= {f.name for f in dataclasses.fields(ctx)}:
            return  # a context that cannot name the stable version cannot run a control query
        # The source fills (and escapes) the placeholders, as it does live.
        ctx = dataclasses.replace(ctx, stable_version=stable.version, stable_artifact=stable.artifact)
        answer = await self._range(source, twin, grid=grid, ctx=ctx)
        if isinstance(answer, str):
            return
        for role, points in answer.items():
            got[f"control_{role}"] = [(t, v) for t, v in points if t >= 0]

    def _stored(self, check: AnyCheck, deploy: PastDeploy) -> tuple[dict[str, Series] | None, str, bool]:
        kind = "http probes keep" if check.type == "http" else f"source {check.source!r} keeps"
        rec = deploy.recorded
        rows = rec.samples.get(check.name) if rec else None
        if not rows:
            where = "the store has no samples of this deploy" if rec else "the deploy is not in the store"
            return None, f"not replayable: {kind} no history and {where}", False
        roles = ROLES[check.type]
        points: dict[str, Points] = {role: [] for role in roles}
        for s in rows:
            m = Measurement.from_json(s.measurement)
            for role in roles:
                points[role].append((s.t, None if m.error else m.values.get(role)))
        raw = rec.baselines.get(check.name) if rec else None
        if isinstance(raw, dict):
            baseline = Baseline.from_json(raw)
            _lay_out(
                points,
                baseline,
                interval=self.policy.verification.interval,
                window=self.policy.verification.baseline_window,
            )
        return {role: _series(p) for role, p in points.items()}, "", False


def _lay_out(points: dict[str, Points], baseline: Baseline, *, interval: float, window: float) -> None:
    """A stored baseline (values without times) placed on the grid just before the deploy."""
    n = min((len(v) for v in baseline.values.values()), default=0)
    n = min(n, int(window // interval))
    for role, values in baseline.values.items():
        if role in points:
            tail = list(values)[len(values) - n :]
            points[role] = [(-(n - i) * interval, x) for i, x in enumerate(tail)] + points[role]


def _too_little(got: Mapping[str, Points], *, check: AnyCheck, window: float, source: str) -> str | None:
    """Why the history is not enough to replay: nothing after the deploy, or no reach back to the baseline."""
    for role, points in got.items():
        after = [v for t, v in points if t > 0]
        if all(v is None for v in after):
            maybe = "beyond its retention?"
            if role == "errors":  # a count with no events in it returns no series at all
                maybe += " or a query that returns nothing without errors: add `or vector(0)`"
            return f"{source} has no data for {role} after the deploy ({maybe})"
    queries = " ".join(str(getattr(check, f, "")) for f in ("errors", "requests", "query"))
    if "{{" in queries:
        return None  # scoped to the new version: no data before the deploy is expected
    for role, points in got.items():
        first = next((t for t, v in points if v is not None), None)
        if first is None or first > -window / 2:
            return (
                f"{source} history of {role} does not reach back over the baseline window "
                f"({window / 60:g} min before the deploy)"
            )
    return None


def _series(points: Sequence[tuple[float, float | None]]) -> Series:
    ordered = sorted(points, key=lambda p: p[0])
    return Series(times=tuple(t for t, _ in ordered), values=tuple(v for _, v in ordered))
