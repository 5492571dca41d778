"""One upstream query as a value: retries with back-off, rate-limit respect, metrics, reading the answer.

Shared by the Datadog and Sentry sources. A failure becomes `Fetched(error=...)`, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from watchdog.analysis.models import Measurement
from watchdog.errors import SourceError
from watchdog.plumbing import Plumbing
from watchdog.policy.checks import ErrorRateCheck, HttpCheck, queries
from watchdog.redact import redact
from watchdog.resilience import RETRYABLE_KINDS, Backoff, ErrorKind, Retry, with_retries
from watchdog.sources.base import AnyCheck, SampleContext
from watchdog.sources.counts import zero_missing_errors
from watchdog.sources.ratelimit import RateLimiter
from watchdog.sources.series import Reduce, Series
from watchdog.telemetry import Metrics
from watchdog.templating import Context, TemplateError, render

log = logging.getLogger(__name__)

RETRYABLE = RETRYABLE_KINDS


class QueryApiConfig(Protocol):
    """What the loop reads of a source's config (Datadog's and Sentry's both have it)."""

    @property
    def retries(self) -> int: ...
    @property
    def timeout(self) -> float: ...


class _Stop(Exception):
    """The rate limiter says no call now: the loop ends without calling, with this error."""

    def __init__(self, error: SourceError, *, quiet: bool = False) -> None:
        super().__init__(str(error))
        self.error = error
        self.quiet = quiet


@dataclass(frozen=True)
class Fetched:
    """The answer to one query: series (or one value), or the reason there is none."""

    series: tuple[Series, ...] = ()
    value: float | None = None
    note: str | None = None
    error: str | None = None
    kind: str | None = None


@dataclass
class FetchLoop:
    """Runs a call (which raises SourceError with a kind) under the rate limiter, retrying what may heal."""

    source: str
    upstream: str
    limiter: RateLimiter
    retries: int
    max_wait: float
    metrics: Metrics | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    backoff: float = 0.5

    @classmethod
    def of(
        cls,
        config: QueryApiConfig,
        *,
        source: str,
        upstream: str,
        plumbing: Plumbing,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        backoff: float,
    ) -> FetchLoop:
        """The loop of one configured source, with its own rate limiter; it waits one timeout at most."""
        limiter = RateLimiter(upstream=upstream, now=now)
        retries, wait = config.retries, config.timeout
        return cls(
            source, upstream, limiter, retries, wait, metrics=plumbing.metrics, sleep=sleep, backoff=backoff
        )

    async def run(self, call: Callable[[], Awaitable[Fetched]]) -> Fetched:
        tries = 0

        async def once() -> Fetched:
            nonlocal tries
            if self.limiter.blocked_for() > 0:
                # No call at all until the window resets: the sample is inconclusive, not failing.
                raise _Stop(SourceError(self.limiter.reason(), kind=ErrorKind.RATE_LIMITED), quiet=True)
            wait = self.limiter.reserve(max_wait=self.max_wait)
            if wait is None:
                reason = f"{self.upstream} rate limit nearly used up ({self.limiter.remaining} calls left)"
                raise _Stop(SourceError(reason, kind=ErrorKind.RATE_LIMITED))
            if wait > 0:
                await self.sleep(wait)
            tries += 1
            started = time.perf_counter()
            try:
                result = await call()
            except SourceError as exc:
                self._record(started, exc.kind)
                raise
            self._record(started, None)
            return result

        def retry_on(exc: Exception) -> Retry | None:
            return Retry() if isinstance(exc, SourceError) and exc.kind in RETRYABLE else None

        backoff = Backoff(attempts=self.retries + 1, base=self.backoff, factor=2.0, max_delay=60.0)
        try:
            return (await with_retries(once, backoff=backoff, retry_on=retry_on, sleep=self.sleep)).value
        except _Stop as stop:
            return self._failed(stop.error, tries, quiet=stop.quiet)
        except SourceError as exc:
            return self._failed(exc, tries)

    def _record(self, started: float, kind: str | None) -> None:
        if self.metrics is None:
            return
        m = self.metrics
        m.source_latency.labels(source=self.source).observe(time.perf_counter() - started)
        outcome = "ok" if kind is None else ("rate_limited" if kind == "rate_limited" else "error")
        m.source_requests.labels(source=self.source, outcome=outcome).inc()

    def _failed(self, exc: SourceError, tries: int, *, quiet: bool = False) -> Fetched:
        message = redact(str(exc))
        if tries > 1:
            message += f" (after {tries} attempts)"
        if self.metrics is not None:
            self.metrics.source_errors.labels(source=self.source, kind=exc.kind).inc()
        # While blocked every sample lands here without a call: one warning per 429 is enough.
        log.log(logging.DEBUG if quiet else logging.WARNING, "source %s: %s", self.source, message)
        return Fetched(error=message, kind=exc.kind)


def role_queries(
    check: AnyCheck, ctx: SampleContext, *, context: Context
) -> tuple[dict[str, str] | str, Reduce]:
    """Role -> query with placeholders filled, and how points reduce; a string is why it cannot run."""
    if isinstance(check, HttpCheck):
        return f"check {check.name}: http checks are probed by the http source", "last"
    try:
        rendered = {
            role: render(q, ctx.placeholders(), context=context).strip() for role, q in queries(check).items()
        }
    except TemplateError as exc:
        return redact(f"check {check.name}: {exc}"), "last"
    missing = [role for role, q in rendered.items() if not q]
    if missing:
        return f"check {check.name}: no query for {', '.join(missing)}", "last"
    return rendered, ("sum" if isinstance(check, ErrorRateCheck) else "last")


def combine(
    *, roles: Sequence[str], values: Mapping[str, float | None], fetched: Sequence[Fetched]
) -> Measurement:
    """One measurement from each role's answer: errors win, then notes for missing data."""
    errors = [(role, f.error) for role, f in zip(roles, fetched, strict=True) if f.error]
    if errors:
        unique = {e for _, e in errors}
        text = unique.pop() if len(unique) == 1 else "; ".join(f"{role}: {e}" for role, e in errors)
        return Measurement(values={role: None for role in roles}, error=text)
    # Count metrics send no point for an interval without events: that is zero errors, not a gap.
    out, zero_notes = zero_missing_errors(values)
    notes = [f.note for f in fetched if f.note] + zero_notes
    empty = [role for role in roles if out.get(role) is None]
    if empty and not notes:
        notes.append("no data" if len(empty) == len(roles) else f"no data for {', '.join(empty)}")
    return Measurement(values=out, note="; ".join(notes) or None)


def finite(value: object) -> float | None:
    """A JSON number as a float; None for null, NaN or anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
