"""The `scrape` source: reads a service's own /metrics exposition, no Prometheus server needed.

A check's query is a selector; counters give their increase since the previous scrape, gauges their value.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from watchdog import looplag
from watchdog.analysis.models import Measurement
from watchdog.errors import ConfigError, SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.checks import queries
from watchdog.policy.connections import ScrapeSourceConfig
from watchdog.policy.secrets import expand_env
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.counts import zero_missing_errors
from watchdog.sources.exposition import Series, parse_exposition, sample_names
from watchdog.sources.httpclient import SourceHttp
from watchdog.sources.selector import Selector, parse_selector
from watchdog.templating import Context, render

FIRST_SCRAPE = "first scrape: no previous value"
# Bounds memory between forget() calls (many verifications at once); the oldest keys go first.
MAX_KEYS = 20_000
_ACCEPT = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

SeriesKey = tuple[str, frozenset[tuple[str, str]]]
StateKey = tuple[str, str, str]  # (verification_id, check name, role)
FetchKey = tuple[str, tuple[tuple[str, str], ...]]  # (rendered URL, its headers, sorted)


@dataclass
class _Answer:
    """One fetched exposition, and its parses by the set of names asked for (checks asking alike share)."""

    text: str
    parsed: dict[frozenset[str], list[Series]] = field(default_factory=dict)


@dataclass
class _Flight:
    """A fetch's outcome and what it waited in the daemon, handed to every sample that joined it."""

    answer: _Answer | None
    error: SourceError | None
    waited: looplag.Waited


class ScrapeSource(Source):
    """Selector queries over a scraped exposition.

    The engine calls `prime(check, ctx)` when a verification starts, so that the first sample
    already has a previous scrape to measure counter increases against; without it the first sample of
    each (verification, check) is inconclusive ("first scrape: no previous value"). A start so late that
    it samples at once is not primed (a reading milliseconds earlier measures nothing): its first sample
    is that inconclusive one.
    `forget(verification_id)` drops a finished verification's state. A bare exposition has no past, so
    `history` is the default None: the engine falls back to the previous stable version's samples.
    """

    def __init__(
        self,
        name: str,
        config: ScrapeSourceConfig,
        *,
        plumbing: Plumbing = BARE,
    ) -> None:
        self.name = name
        self.config = config
        self._environ = plumbing.environ
        self._http = SourceHttp(
            source=name,
            timeout=config.timeout,
            concurrency=config.concurrency,
            retries=1,
            plumbing=plumbing,
        )
        self._previous: dict[StateKey, dict[SeriesKey, float]] = {}
        self._flights: dict[FetchKey, asyncio.Task[_Flight]] = {}

    async def prime(self, check: AnyCheck, ctx: SampleContext) -> Measurement:
        """Remembers the current counter values as the starting point; an error comes back, never raised."""
        return await self._measure(check, ctx=ctx, remember_only=True)

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        return await self._measure(check, ctx=ctx, remember_only=False)

    def forget(self, verification_id: str) -> None:
        for key in [k for k in self._previous if k[0] == verification_id]:
            del self._previous[key]

    async def aclose(self) -> None:
        flights = list(self._flights.values())
        for task in flights:
            task.cancel()
        await asyncio.gather(*flights, return_exceptions=True)
        await self._http.aclose()

    async def _measure(self, check: AnyCheck, *, ctx: SampleContext, remember_only: bool) -> Measurement:
        roles = queries(check)
        if not roles:
            return Measurement(error=f"the scrape source has no query for a {check.type} check")
        try:
            selectors = {
                role: parse_selector(render(q, ctx.placeholders(), context=Context.SELECTOR))
                for role, q in roles.items()
            }
            names = frozenset(n for sel in selectors.values() for n in sample_names(sel.name))
            series = await self._scrape(ctx, names)
        except (ConfigError, SourceError) as exc:
            return Measurement(error=redact(str(exc)))
        values: dict[str, float | None] = {}
        notes: list[str] = []
        for role, selector in selectors.items():
            value, note = self._value(selector, series, key=(ctx.verification_id, check.name, role))
            values[role] = None if remember_only else value
            if note:
                notes.append(note if len(selectors) == 1 else f"{role}: {note}")
        if not remember_only:
            # An errors counter that does not exist yet (no error since start) beside counted requests: 0.
            values, zero = zero_missing_errors(values)
            if zero:
                notes = [n for n in notes if not n.startswith(("errors: no ", "control_errors: no "))] + zero
        joined = FIRST_SCRAPE if notes and all(FIRST_SCRAPE in n for n in notes) else "; ".join(notes)
        return Measurement(values=values, note=joined or None)

    async def _scrape(self, ctx: SampleContext, names: frozenset[str]) -> list[Series]:
        try:
            url = render(
                self.config.url,
                ctx.placeholders(),
                context=Context.URL,
                environ=self._environ,
                expand_env=True,
            )
            headers = {"Accept": _ACCEPT}
            headers.update({k: expand_env(v, environ=self._environ) for k, v in self.config.headers.items()})
        except ConfigError as exc:
            raise SourceError(f"source {self.name}: {exc}", kind="config") from None
        answer = await self._fetch((url, tuple(sorted(headers.items()))))
        parsed = answer.parsed.get(names)
        if parsed is None:
            try:
                parsed = answer.parsed[names] = parse_exposition(answer.text, names)
            except ValueError as exc:
                text = f"cannot parse the exposition from {self.name}: {exc}"
                raise SourceError(text, kind="parse") from None
        return parsed

    async def _fetch(self, key: FetchKey) -> _Answer:
        """The exposition at `key`, joining a fetch of the same URL and headers already in flight.

        Safe to share: the answer arrives after the joiner asked, each verification keeps its own previous
        values, and nothing is reused once the fetch is done (a verification's next sample fetches anew).
        """
        task = self._flights.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fly(key), name=f"scrape {self.name}")
            self._flights[key] = task
            task.add_done_callback(lambda done: self._landed(key, done))
        # Shielded: a verification that ends (its sample cancelled) does not cancel the others' fetch.
        flight = await asyncio.shield(task)
        waited = looplag.current()
        if waited is not None:  # the shared request's waiting is this sample's too
            waited.join(flight.waited)
        if flight.error is not None:
            raise flight.error
        assert flight.answer is not None
        return flight.answer

    async def _fly(self, key: FetchKey) -> _Flight:
        # Its own accounting (the task's context is a copy): every joiner adds it to its own sample's.
        waited = looplag.begin()
        url, headers = key
        try:
            response = await self._http.request("GET", url, headers=dict(headers))
        except SourceError as exc:
            return _Flight(answer=None, error=exc, waited=waited)
        return _Flight(answer=_Answer(response.text), error=None, waited=waited)

    def _landed(self, key: FetchKey, task: asyncio.Task[_Flight]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]

    def _value(self, selector: Selector, series: list[Series], *, key: StateKey) -> tuple[float | None, str]:
        matching = [s for s in series if _name_matches(selector.name, s) and selector.matches(s.labels)]
        if not matching and not any(_name_matches(selector.name, s) for s in series):
            # Remembered as "nothing yet": a counter that appears later counts its whole value as new.
            self._previous[key] = {}
            return None, f"no metric named {selector.name} in the exposition"
        is_counter = any(s.counter for s in matching) or (
            not matching and any(s.counter for s in series if _name_matches(selector.name, s))
        )
        gauges = sum(s.value for s in matching if not s.counter)
        if not is_counter:
            return (gauges if matching else None), ("" if matching else "no series match the selector")
        current = {(s.name, frozenset(s.labels.items())): s.value for s in matching if s.counter}
        previous = self._previous.pop(key, None)
        self._previous[key] = current
        while len(self._previous) > MAX_KEYS:
            del self._previous[next(iter(self._previous))]
        if previous is None:
            return None, FIRST_SCRAPE
        return gauges + sum(_increase(v, previous.get(k)) for k, v in current.items()), ""


def _increase(now: float, before: float | None) -> float:
    # A series that is new since the last scrape, or whose counter went down (a restart), counted from 0.
    if before is None or now < before:
        return now
    return now - before


def _name_matches(wanted: str, series: Series) -> bool:
    if series.name == wanted:
        return True
    # A counter may be asked for with or without its `_total` suffix.
    return series.counter and (series.name == wanted + "_total" or wanted == series.name + "_total")
