"""The Sentry source: error and transaction counts (events-stats), crash-free rates (sessions) of a release.

REST over httpx with a bearer token; Sentry's rate-limit headers (Reset: an epoch) are obeyed (ratelimit.py).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from watchdog.analysis.models import Baseline, Measurement
from watchdog.errors import SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.checks import MetricCheck
from watchdog.policy.connections import SentrySourceConfig
from watchdog.policy.secrets import resolve_secret
from watchdog.resilience import ErrorKind, retry_after, status_kind
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.counts import zero_missing_error_grid
from watchdog.sources.query_api import Fetched, FetchLoop, combine, role_queries
from watchdog.sources.ranges import Grid, RangeValues, patiently, read_grid
from watchdog.sources.ratelimit import header_float
from watchdog.sources.sentry_query import (
    RELEASE_TERM,
    TOTAL_FIELD,
    SentryQuery,
    event_type,
    iso,
    parse_events_stats,
    parse_query,
    parse_sessions,
    release_filter,
)
from watchdog.sources.series import Series, error_rate_pairs
from watchdog.templating import Context

UPSTREAM = "Sentry"
# Sentry refuses an events-stats request of more than 10,000 buckets; and a history follows at most this
# many `Link` pages.
RANGE_MAX_POINTS = 10000
_MAX_PAGES = 100
# The headers of the last answer this task read (a history follows its `Link` cursor).
_LAST_HEADERS: ContextVar[Mapping[str, str] | None] = ContextVar("sentry_last_headers", default=None)
_LINK = re.compile(r'<[^>]*>;\s*rel="next";\s*results="true";\s*cursor="([^"]+)"')


class SentrySource(Source):
    """Queries are `events`, `transactions` or `crash_free_rate(session)`, each with optional search terms.

    Counts cover [at - interval, at) of the new release (`release:"<version>"` unless the check names
    a release); crash-free rates cover the release since the deploy. See docs/sources.md.
    """

    # Samples count the new release; the baseline (before it existed) counts the whole project.
    scopes_release = True

    def __init__(
        self,
        name: str,
        config: SentrySourceConfig,
        *,
        plumbing: Plumbing = BARE,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: float = 0.5,
    ) -> None:
        self.name = name
        self._config = config
        self._now = now
        token = resolve_secret(
            env=config.token_env, file=config.token_file, what=f"source {name}", environ=plumbing.environ
        )
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=config.url.rstrip("/") + "/api/0/",
            headers=headers,
            timeout=config.timeout,
            limits=httpx.Limits(max_connections=config.concurrency),
            transport=plumbing.transport,
        )
        self._slots = asyncio.Semaphore(config.concurrency)
        self._loop = FetchLoop.of(
            config, source=name, upstream=UPSTREAM, plumbing=plumbing, now=now, sleep=sleep, backoff=backoff
        )
        self.limiter = self._loop.limiter

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        roles, _how = role_queries(check, ctx, context=Context.SENTRY)
        if isinstance(roles, str):
            return Measurement(error=roles)
        min_sessions = check.min_sessions if isinstance(check, MetricCheck) else None
        fetched = await asyncio.gather(
            *(
                self._sample_one(q, at=at, interval=interval, ctx=ctx, min_sessions=min_sessions)
                for q in roles.values()
            )
        )
        values = {role: _reading(f) for role, f in zip(roles, fetched, strict=True)}
        return combine(roles=list(roles), values=values, fetched=fetched)

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        """Per-bucket counts of the whole project before the deploy (the releases running then).

        None for crash-free rates: the previous release is unknown here, and sessions come hourly.
        """
        roles, _how = role_queries(check, ctx, context=Context.SENTRY)
        if isinstance(roles, str):
            return None
        try:
            parsed = {role: parse_query(q) for role, q in roles.items()}
        except SourceError:
            return None
        if any(p.kind == "crash_free_rate" for p in parsed.values()):
            return None
        fetched = await asyncio.gather(
            *(
                self._counts(
                    p,
                    search=RELEASE_TERM.sub("", p.filter).strip(),
                    start=start,
                    end=end,
                    interval=interval,
                    environment=ctx.environment,
                )
                for p in parsed.values()
            )
        )
        if any(f.error or not f.series for f in fetched):
            return None
        per_role = {role: dict(f.series[0].points) for role, f in zip(roles, fetched, strict=True)}
        times = sorted(set().union(*(p.keys() for p in per_role.values())))
        if "requests" in per_role:
            errors, requests = error_rate_pairs(
                [per_role["errors"].get(t) for t in times], [per_role["requests"].get(t) for t in times]
            )
            return Baseline({"errors": errors, "requests": requests}) if requests else None
        values = [per_role["value"][t] for t in times if t in per_role["value"]]
        return Baseline({"value": values}) if values else None

    async def range_values(
        self, check: AnyCheck, *, grid: Grid, ctx: SampleContext, release_scoped: bool = True
    ) -> RangeValues:
        """events-stats counts at every grid time: of the new release (as sampled), or of the whole
        project (`release_scoped=False`, as the baseline reads it). Follows `Link` cursors, and keeps
        each request under Sentry's 10,000 points."""
        roles, _how = role_queries(check, ctx, context=Context.SENTRY)
        if isinstance(roles, str):
            return RangeValues(grid=grid, error=roles)
        values: dict[str, list[float | None]] = {}
        for role, text in roles.items():
            try:
                query = parse_query(text)
            except SourceError as exc:
                return RangeValues(grid=grid, error=str(exc), kind=exc.kind)
            if query.kind == "crash_free_rate":
                reason = "crash-free rates come in hourly buckets since the deploy: no past samples to replay"
                return RangeValues(grid=grid, error=reason, kind="unsupported")
            search = (
                release_filter(query, ctx.version)
                if release_scoped
                else RELEASE_TERM.sub("", query.filter).strip()
            )
            got: list[float | None] = []
            for part in grid.chunks(RANGE_MAX_POINTS):
                params = [
                    ("yAxis", "count()"),
                    ("query", f"{event_type(query)} {search}".strip()),
                    ("start", iso(datetime.fromtimestamp(part.start - part.interval, UTC))),
                    ("end", iso(datetime.fromtimestamp(part.last, UTC))),
                    ("interval", f"{max(1, round(part.interval))}s"),
                    *self._scope(ctx.environment),
                ]
                fetched = await self._paged_stats(params)
                if fetched.error:
                    return RangeValues(grid=grid, error=fetched.error, kind=fetched.kind)
                got += read_grid(fetched.series, grid=part, how="sum")
            values[role] = got
        zero_missing_error_grid(values)
        return RangeValues(grid=grid, values=values)

    async def _paged_stats(self, params: list[tuple[str, str]]) -> Fetched:
        """One events-stats series, following `Link: <...>; rel="next"; results="true"; cursor="..."`."""
        path = f"organizations/{self._config.organization}/events-stats/"
        points: list[tuple[float, float]] = []
        cursor: str | None = None
        for _page in range(_MAX_PAGES):
            page = [*params, ("cursor", cursor)] if cursor else params

            async def call(page: list[tuple[str, str]] = page) -> Fetched:
                body = await self._get(path, page)
                # _get noted this answer's headers in this task's context: its Link says what comes next.
                return Fetched(
                    series=(parse_events_stats(body),), note=next_cursor(_LAST_HEADERS.get() or {})
                )

            fetched = await patiently(functools.partial(self._loop.run, call), limiter=self.limiter)
            if fetched.error:
                return fetched
            points += fetched.series[0].points
            cursor = fetched.note
            if cursor is None:
                break
        return Fetched(series=(Series(scope="sentry", points=tuple(sorted(points))),))

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- requests -------------------------------------------------------------------------------

    async def _sample_one(
        self, text: str, *, at: datetime, interval: float, ctx: SampleContext, min_sessions: int | None
    ) -> Fetched:
        try:
            query = parse_query(text)
        except SourceError as exc:
            return Fetched(error=str(exc), kind=exc.kind)
        search = release_filter(query, ctx.version)
        if query.kind != "crash_free_rate":
            return await self._counts(
                query,
                search=search,
                start=at - timedelta(seconds=interval),
                end=at,
                interval=interval,
                environment=ctx.environment,
            )
        return await self._crash_free(
            query,
            search=search,
            since=ctx.deployed_at,
            until=at,
            min_sessions=min_sessions,
            environment=ctx.environment,
        )

    def _scope(self, environment: str) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        project = self._config.project
        if project:
            # Sentry's organization endpoints take numeric `project` ids, or `projectSlug` names.
            params.append(("project" if project.lstrip("-").isdigit() else "projectSlug", project))
        environment = self._config.environment or environment
        if environment:
            params.append(("environment", environment))
        return params

    async def _counts(
        self,
        query: SentryQuery,
        *,
        search: str,
        start: datetime,
        end: datetime,
        interval: float,
        environment: str,
    ) -> Fetched:
        params = [
            ("yAxis", "count()"),
            ("query", f"{event_type(query)} {search}".strip()),
            ("start", iso(start)),
            ("end", iso(end)),
            ("interval", f"{max(1, round(interval))}s"),
            *self._scope(environment),
        ]
        path = f"organizations/{self._config.organization}/events-stats/"

        async def call() -> Fetched:
            return Fetched(series=(parse_events_stats(await self._get(path, params)),))

        return await self._loop.run(call)

    async def _crash_free(
        self,
        query: SentryQuery,
        *,
        search: str,
        since: datetime,
        until: datetime,
        min_sessions: int | None,
        environment: str,
    ) -> Fetched:
        rate_field, total_field = f"crash_free_rate({query.unit})", TOTAL_FIELD[query.unit]
        # Sentry buckets sessions by the hour at least: the release scopes them, the range only covers it.
        hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        params = [
            ("field", rate_field),
            ("field", total_field),
            ("query", search),
            ("start", iso(hour)),
            ("end", iso(max(until, hour + timedelta(hours=1)))),
            ("interval", "1h"),
            *self._scope(environment),
        ]
        path = f"organizations/{self._config.organization}/sessions/"

        async def call() -> Fetched:
            rates = parse_sessions(
                await self._get(path, params), rate_field=rate_field, total_field=total_field
            )
            count = sum(n for _, n in rates)
            if min_sessions is not None and count < min_sessions:
                word = "sessions" if query.unit == "session" else "users"
                return Fetched(note=f"{count:.0f} {word} < min_sessions {min_sessions}")
            known = [(r, n) for r, n in rates if r is not None]
            if not known:
                return Fetched()
            # Several groups (a grouped query) combine weighted by their counts.
            weight = sum(n for _, n in known)
            value = sum(r * n for r, n in known) / weight if weight else known[0][0]
            return Fetched(value=value)

        return await self._loop.run(call)

    async def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        async with self._slots:
            try:
                response = await self._client.get(path, params=httpx.QueryParams(tuple(params)))
            except httpx.TimeoutException:
                raise SourceError(
                    f"Sentry did not answer within {self._config.timeout:g} s", kind=ErrorKind.TIMEOUT
                ) from None
            except httpx.TransportError as exc:
                raise SourceError(
                    f"cannot reach Sentry: {type(exc).__name__}: {exc}", kind=ErrorKind.CONNECTION
                ) from None
        self._note(response.headers)
        if response.status_code == 429:
            reset = header_float(response.headers, "X-Sentry-Rate-Limit-Reset")
            retry = retry_after(response.headers, now=self._now)
            self.limiter.block(
                reset_at=reset if reset is not None else None if retry is None else self._now() + retry
            )
            raise SourceError(self.limiter.reason(), kind=ErrorKind.RATE_LIMITED)
        if response.status_code >= 400:
            detail = "" if response.status_code >= 500 else f": {_detail(response)}"
            kind = status_kind(response.status_code)
            raise SourceError(f"Sentry answered {response.status_code}{detail}", kind=kind)
        try:
            return response.json()
        except ValueError:
            raise SourceError("malformed response from Sentry: not JSON", kind="parse") from None

    def _note(self, headers: Mapping[str, str]) -> None:
        _LAST_HEADERS.set(headers)
        self.limiter.update(
            limit=header_float(headers, "X-Sentry-Rate-Limit-Limit"),
            remaining=header_float(headers, "X-Sentry-Rate-Limit-Remaining"),
            reset_at=header_float(headers, "X-Sentry-Rate-Limit-Reset"),  # an epoch, unlike Datadog's
        )


def _reading(fetched: Fetched) -> float | None:
    """A count answer sums every bucket (Sentry already filtered by start/end); a rate is its value."""
    if not fetched.series:
        return fetched.value
    points = fetched.series[0].points
    return sum(v for _, v in points) if points else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:200] if detail else response.reason_phrase


def next_cursor(headers: Mapping[str, str]) -> str | None:
    """The cursor of the next page in a Link header, when Sentry says it holds results."""
    match = _LINK.search(headers.get("Link") or headers.get("link") or "")
    return match.group(1) if match else None
