"""`watchdog check --online`: runs every check's query once, now, against the configured sources.

One line per check says whether its query answers with exactly one usable value; exit 1 if any does not.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from watchdog.analysis.models import Measurement
from watchdog.errors import ConfigError
from watchdog.policy.checks import HttpCheck
from watchdog.policy.loader import PolicySet
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.prometheus import PrometheusSource
from watchdog.sources.registry import build_available_sources, require_source
from watchdog.sources.unavailable import degraded

ONLINE_VERSION = "online-check"


def run_online_checks(
    policy_set: PolicySet, *, out: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Prints `service/env check: ok, ...` or `...: ERROR reason` per check; returns the exit code."""
    return asyncio.run(_run(policy_set, out=out or sys.stdout, environ=environ))


def _build_each(
    policy_set: PolicySet, *, out: TextIO, environ: Mapping[str, str] | None
) -> tuple[dict[str, Source], int]:
    """Every source that can be built; one that cannot is reported and stands in, so every check runs."""
    sources = build_available_sources(policy_set.daemon, environ=environ)
    standins = degraded(sources)
    for name in policy_set.daemon.sources:
        if name in standins:
            print(f"source {name}: ERROR {standins[name]}", file=out)
    return sources, len(standins)


async def _run(policy_set: PolicySet, *, out: TextIO, environ: Mapping[str, str] | None) -> int:
    # Every problem is listed, not the first: a missing token of one source hides nothing else.
    sources, failed = _build_each(policy_set, out=out, environ=environ)
    try:
        for service in sorted(policy_set.services):
            for environment in sorted(policy_set.environments(service)):
                policy = policy_set.policy(service, environment)
                if policy is None:
                    continue
                ctx = _context(service=service, environment=environment)
                for check in policy.checks:
                    try:
                        text = await _one(
                            check, sources=sources, ctx=ctx, interval=policy.verification.interval
                        )
                    except Exception as exc:  # one broken check must not hide the next ones
                        text = f"ERROR {type(exc).__name__}: {redact(str(exc))}"
                    failed += text.startswith("ERROR")
                    print(f"{service}/{environment} {check.name}: {text}", file=out)
    finally:
        for source in sources.values():
            await source.aclose()
    return 1 if failed else 0


def _context(*, service: str, environment: str) -> SampleContext:
    now = datetime.now(UTC)
    return SampleContext(
        deployment_id=ONLINE_VERSION,
        verification_id=ONLINE_VERSION,
        service=service,
        environment=environment,
        version=ONLINE_VERSION,
        artifact=ONLINE_VERSION,
        deployed_at=now,
    )


async def _one(check: AnyCheck, *, sources: Mapping[str, Source], ctx: SampleContext, interval: float) -> str:
    """`ok, ...` or `ERROR ...` for one check."""
    try:
        source = require_source(check, sources)
    except ConfigError as exc:
        return f"ERROR {exc}"
    # A scrape source measures counters by their increase: it needs a starting point first.
    primed = await source.prime(check, ctx)
    if primed is not None and primed.error:
        return f"ERROR {primed.error}"
    m = await source.sample(check, at=datetime.now(UTC), interval=interval, ctx=ctx)
    return describe(m, check=check, one_series=isinstance(source, PrometheusSource))


def describe(m: Measurement, *, check: AnyCheck, one_series: bool = False) -> str:
    """The verdict text of one online measurement (`ok, 1 series, value 0.0123` or `ERROR no data`)."""
    if m.error:
        return f"ERROR {m.error}"
    if isinstance(check, HttpCheck):
        if m.values.get("up") != 1.0:
            return f"ERROR {m.note or 'probe failed'}"
        return f"ok, up, {m.values.get('latency') or 0.0:.3f}s"
    missing = [role for role, value in m.values.items() if value is None]
    if missing or not m.values:
        return f"ERROR {m.note or 'no data'}"
    series = "1 series, " if one_series else ""
    if len(m.values) == 1:
        return f"ok, {series}value {_fmt(next(iter(m.values.values())))}"
    parts = ", ".join(f"{role} {_fmt(value)}" for role, value in m.values.items())
    return f"ok, {series.replace('1 series', '1 series each')}{parts}"


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"
