"""Takes one sample of every check of a verification, concurrently, each bounded by a timeout.

A source that hangs or raises becomes an inconclusive measurement with the reason; nothing escapes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from watchdog.analysis.models import Measurement
from watchdog.engine.control import control_twin, merge
from watchdog.policy.checks import HttpCheck
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source

log = logging.getLogger(__name__)


def source_name(check: AnyCheck) -> str:
    return "http" if isinstance(check, HttpCheck) else (check.source or "")


async def sample_one(
    *, source: Source | None, check: AnyCheck, at: datetime, interval: float, ctx: SampleContext
) -> Measurement:
    if source is None:
        return Measurement(error=f"source '{source_name(check)}' is not configured")
    # The source has its own timeouts; this bound only protects the tick from a source that forgets them.
    limit = max(interval, 5.0)
    try:
        return await asyncio.wait_for(source.sample(check, at=at, interval=interval, ctx=ctx), timeout=limit)
    except TimeoutError:
        return Measurement(error=f"source '{source.name}' gave no answer within {limit:g}s")
    except Exception as exc:  # a source bug must not stop the verification
        log.exception("source %s failed on check %s", source.name, check.name)
        return Measurement(error=redact(f"source '{source.name}' failed: {type(exc).__name__}: {exc}"))


async def sample_all(
    *,
    sources: Mapping[str, Source],
    checks: Sequence[AnyCheck],
    at: datetime,
    interval: float,
    ctx: SampleContext,
) -> dict[str, Measurement]:
    # A check with compare_to: control is sampled twice at one instant: its own queries and the control's.
    twins = [control_twin(c) for c in checks]
    jobs = [*checks, *(t for t in twins if t is not None)]
    results = await asyncio.gather(
        *(
            sample_one(source=sources.get(source_name(c)), check=c, at=at, interval=interval, ctx=ctx)
            for c in jobs
        )
    )
    own = dict(zip([c.name for c in checks], results[: len(checks)], strict=True))
    extra = iter(results[len(checks) :])
    for check, twin in zip(checks, twins, strict=True):
        if twin is not None:
            own[check.name] = merge(check, own[check.name], next(extra))
    return own
