"""Captures each check's pre-deploy baseline when a verification starts, and stores it with it.

Sources with history answer for the baseline window; for others the previous stable samples serve.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

from watchdog.analysis.models import Baseline, Measurement
from watchdog.policy.checks import HttpCheck
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.store import Store
from watchdog.store.records import SampleRow

log = logging.getLogger(__name__)


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
) -> dict[str, Baseline | None]:
    """check name -> Baseline (None: no baseline; the rules then apply only absolute limits)."""
    start, end = ctx.deployed_at - timedelta(seconds=window), ctx.deployed_at
    stable = await asyncio.to_thread(
        store.rollback_candidate,
        service=ctx.service,
        environment=ctx.environment,
        exclude_artifact=ctx.artifact,
    )

    async def one(check: AnyCheck) -> Baseline | None:
        if isinstance(check, HttpCheck):
            return None
        source = sources.get(check.source or "")
        if source is None:
            return None
        try:
            found = await source.history(check, start=start, end=end, interval=interval, ctx=ctx)
        except Exception as exc:
            log.warning("%s", redact(f"baseline of {check.name} from {source.name} failed: {exc}"))
            found = None
        if found is not None or stable is None:
            return found
        rows = await asyncio.to_thread(
            store.stable_samples,
            service=ctx.service,
            environment=ctx.environment,
            artifact=stable.artifact,
            check_name=check.name,
        )
        return baseline_from_samples(rows)

    results = await asyncio.gather(*(one(c) for c in checks))
    return {c.name: b for c, b in zip(checks, results, strict=True)}


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
