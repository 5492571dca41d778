"""Captures each check's pre-deploy baseline when a verification starts, and stores it with it.

Sources with history answer for the baseline window; for others the previous stable samples serve.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from watchdog.analysis.models import Baseline, Measurement
from watchdog.engine.control import control_twin
from watchdog.policy.checks import HttpCheck, compare_to
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.registry import source_for
from watchdog.store import Store
from watchdog.store.records import SampleRow, StableRow

log = logging.getLogger(__name__)

WEEK = timedelta(days=7)


def stable_of(store: Store, ctx: SampleContext) -> StableRow | None:
    """The newest stable artifact other than the one being verified (a store read: call it in a thread)."""
    return store.rollback_candidate(
        service=ctx.service, environment=ctx.environment, exclude_artifact=ctx.artifact
    )


def stable_context(ctx: SampleContext, stable: StableRow | None) -> SampleContext:
    """The context with {{ stable_version }} and {{ stable_artifact }} of `stable`."""
    if stable is None:
        return ctx
    return dataclasses.replace(ctx, stable_version=stable.version, stable_artifact=stable.artifact)


async def with_stable(store: Store, ctx: SampleContext) -> SampleContext:
    """The context with {{ stable_version }} and {{ stable_artifact }} of the newest other stable artifact."""
    return stable_context(ctx, await asyncio.to_thread(stable_of, store, ctx))


def baseline_from_samples(samples: Sequence[SampleRow]) -> Baseline | None:
    """A baseline from stored, conclusive, non-warm-up samples of the previous stable version."""
    values: dict[str, list[float]] = {}
    rows = [s for s in samples if not s.warmup and s.outcome != "inconclusive"]
    for s in rows:
        m = Measurement.from_json(s.measurement)
        if any(v is None for v in m.values.values()):
            continue
        for role, v in m.values.items():
            assert v is not None
            values.setdefault(role, []).append(v)
    if not values:
        return None
    return Baseline(values=values, origin="previous stable version's samples")


async def capture(
    *,
    store: Store,
    sources: Mapping[str, Source],
    checks: Sequence[AnyCheck],
    ctx: SampleContext,
    window: float,
    interval: float,
    stable: StableRow | Literal["look up"] | None = "look up",
) -> dict[str, Baseline | None]:
    """check name -> Baseline (None: no baseline; the rules then apply only absolute limits).

    `stable`: the previous stable artifact when the caller has read it already (one read per start).
    """
    start, end = ctx.deployed_at - timedelta(seconds=window), ctx.deployed_at
    prior = await asyncio.to_thread(stable_of, store, ctx) if isinstance(stable, str) else stable

    async def one(check: AnyCheck) -> Baseline | None:
        if isinstance(check, HttpCheck):
            return None
        # With a control, the check's own queries name the new version, which had no traffic before the
        # deploy: the baseline (its noise, and the fallback) is the stable version's history instead.
        asked = control_twin(check) or check
        source = source_for(asked, sources)
        if source is None:
            return None
        found = None
        if compare_to(check) == "last_week":
            # the same span seven days earlier, from the deploy time on; `before` when that history is missing
            week_start = end - WEEK
            week_end = week_start + timedelta(seconds=window)
            week = await _history(source, asked, start=week_start, end=week_end, interval=interval, ctx=ctx)
            if week is not None:
                return Baseline(values=week.values, origin=f"last week ({week.origin})")
            found = await _history(source, asked, start=start, end=end, interval=interval, ctx=ctx)
            if found is not None:
                found = Baseline(values=found.values, origin="before: last week's history missing")
        else:
            found = await _history(source, asked, start=start, end=end, interval=interval, ctx=ctx)
        if found is not None or prior is None:
            return found
        rows = await asyncio.to_thread(
            store.stable_samples,
            service=ctx.service,
            environment=ctx.environment,
            artifact=prior.artifact,
            check_name=check.name,
        )
        return baseline_from_samples(rows)

    results = await asyncio.gather(*(one(c) for c in checks))
    return {c.name: b for c, b in zip(checks, results, strict=True)}


async def _history(
    source: Source, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
) -> Baseline | None:
    try:
        return await source.history(check, start=start, end=end, interval=interval, ctx=ctx)
    except Exception as exc:
        log.warning("%s", redact(f"baseline of {check.name} from {source.name} failed: {exc}"))
        return None


async def of_restored_version(
    *, store: Store, deployment_id: str, checks: Sequence[AnyCheck]
) -> dict[str, Baseline | None] | None:
    """A rollback's baselines: those the failed deploy captured, i.e. how the restored version behaved.

    The window before the rollback holds the failed version's numbers, so it must not be the comparison.
    None when the deploy kept no baseline (then the rollback captures its own, as before).
    """
    deploy = await asyncio.to_thread(store.deploy_verification, deployment_id)
    raw = deploy.baseline or {}
    if not raw:
        return None
    return {c.name: (Baseline.from_json(raw[c.name]) if raw.get(c.name) else None) for c in checks}
