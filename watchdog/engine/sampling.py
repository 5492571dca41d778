"""Takes one sample of every check of a verification, concurrently, each bounded by a timeout.

A source that hangs or raises becomes an inconclusive measurement; so does one the daemon itself made late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from watchdog import looplag
from watchdog.analysis.models import Measurement
from watchdog.engine.control import control_twin, merge
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.registry import source_for, source_name
from watchdog.telemetry import Metrics

log = logging.getLogger(__name__)

# A sample taken later than this share of its interval no longer measures its own instant: it is not
# taken at all (shedding load) and stays inconclusive. Jitter offsets stay below it (analysis/timing.py).
LATE_SHARE = 0.5
# A timeout or failed connection is excused when the sample waited this long in the daemon first, or
# when the loop ran behind for this share of the time its request was on the wire (0.1 s to LAG_BOUND_S).
QUEUE_BOUND_S = 0.5
LAG_BOUND_S = 0.25
LAG_SHARE = 0.2
OVERLOADED = "watchdog overloaded"


class _Throttle:
    """Yes at most once per `every` seconds: a summary line a minute instead of a line per sample."""

    def __init__(self, every: float = 60.0, *, first_at_once: bool) -> None:
        self.every = every
        self.last = -every if first_at_once else time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every:
            return False
        self.last = now
        return True


class _Tally:
    """Overload said once per minute at most, with the numbers, instead of a line per sample."""

    def __init__(self) -> None:
        self.throttle = _Throttle(first_at_once=True)
        self.count = 0
        self.worst = {"late": 0.0, "queued": 0.0, "lag": 0.0}

    def add(self, *, late: float, queued: float, lag: float) -> None:
        self.count += 1
        for key, value in (("late", late), ("queued", queued), ("lag", lag)):
            self.worst[key] = max(self.worst[key], value)
        if not self.throttle.due():
            return
        log.warning(
            "watchdog overloaded: %d samples inconclusive since the last report (worst: taken %.1f s late, "
            "queued %.1f s, event loop lag %.1f s); add a replica or lengthen intervals",
            self.count,
            self.worst["late"],
            self.worst["queued"],
            self.worst["lag"],
        )
        self.count, self.worst = 0, dict.fromkeys(self.worst, 0.0)


_tally = _Tally()


class Gaps:
    """Missed samples said once per minute at most, with the count, instead of a line per gap.

    Each gap stays in the verification's own history (a transition note); the log only summarises.
    """

    def __init__(self) -> None:
        self.throttle = _Throttle(first_at_once=False)
        self.verifications = 0
        self.missed = 0

    def add(self, missed: int) -> None:
        self.verifications += 1
        self.missed += missed
        if not self.throttle.due():
            return
        log.warning(
            "%d samples of %d verifications missed since the last report (nobody sampled in time: daemon "
            "down, lease lost or overloaded); recorded as gaps, not invented",
            self.missed,
            self.verifications,
        )
        self.verifications, self.missed = 0, 0


gaps = Gaps()


def _excuse(waited: looplag.Waited, measurement: Measurement) -> str | None:
    """The overload reason when a probe failed for want of the daemon's attention, else None."""
    failed = measurement.error is not None or waited.network_failure
    if not failed:
        return None
    if waited.queued_s > QUEUE_BOUND_S:
        return f"{OVERLOADED}: queued {waited.queued_s:.1f} s"
    if waited.lag_s > max(0.1, min(LAG_BOUND_S, LAG_SHARE * waited.wire_s)):
        return f"{OVERLOADED}: event loop lagged {waited.lag_s:.1f} s"
    return None


async def sample_one(
    *,
    source: Source | None,
    check: AnyCheck,
    at: datetime,
    interval: float,
    ctx: SampleContext,
    late_s: float = 0.0,
    metrics: Metrics | None = None,
) -> Measurement:
    if source is None:
        return Measurement(error=f"source '{source_name(check)}' is not configured")
    if late_s > LATE_SHARE * interval:
        return _overloaded(f"{OVERLOADED}: sample taken {late_s:.1f} s late", late=late_s, metrics=metrics)
    waited = looplag.begin()  # filled in by the HTTP layer of this task (queueing, loop lag)
    measurement = await _measure(source=source, check=check, at=at, interval=interval, ctx=ctx)
    reason = _excuse(waited, measurement)
    if reason is None:
        return measurement
    return _overloaded(reason, late=late_s, queued=waited.queued_s, lag=waited.lag_s, metrics=metrics)


def _overloaded(
    reason: str, *, late: float, queued: float = 0.0, lag: float = 0.0, metrics: Metrics | None
) -> Measurement:
    _tally.add(late=late, queued=queued, lag=lag)
    if metrics is not None:
        metrics.overload_samples.inc()
    return Measurement(error=reason)


async def _measure(
    *, source: Source, check: AnyCheck, at: datetime, interval: float, ctx: SampleContext
) -> Measurement:
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
    late_s: float = 0.0,
    metrics: Metrics | None = None,
) -> dict[str, Measurement]:
    """`late_s`: how long after its due time the sample is taken (event-loop lag and tick queueing)."""
    # A check with compare_to: control is sampled twice at one instant: its own queries and the control's.
    twins = [control_twin(c) for c in checks]
    jobs = [*checks, *(t for t in twins if t is not None)]
    results = await asyncio.gather(
        *(
            sample_one(
                source=source_for(c, sources),
                check=c,
                at=at,
                interval=interval,
                ctx=ctx,
                late_s=late_s,
                metrics=metrics,
            )
            for c in jobs
        )
    )
    own = dict(zip([c.name for c in checks], results[: len(checks)], strict=True))
    extra = iter(results[len(checks) :])
    for check, twin in zip(checks, twins, strict=True):
        if twin is not None:
            own[check.name] = merge(check, own[check.name], next(extra))
    return own
