"""The Datadog metric source: v1 `GET /api/v1/query` through the official datadog-api-client, in threads.

Identical (query, time bucket) requests go out once (cache.py); rate-limit headers are obeyed (ratelimit.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException, OpenApiException
from datadog_api_client.rest import RESTClientObject
from datadog_api_client.v1.api.metrics_api import MetricsApi

from watchdog.analysis.models import Baseline, Measurement
from watchdog.errors import SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.connections import DatadogSourceConfig
from watchdog.policy.secrets import resolve_secret
from watchdog.resilience import ErrorKind
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.cache import QueryCache
from watchdog.sources.counts import zero_missing_error_grid
from watchdog.sources.query_api import Fetched, FetchLoop, combine, finite, role_queries
from watchdog.sources.ranges import Grid, RangeValues, patiently, read_grid
from watchdog.sources.ratelimit import header_float
from watchdog.sources.series import Series, buckets, error_rate_pairs, window_value
from watchdog.templating import Context

log = logging.getLogger(__name__)
UPSTREAM = "Datadog"
# Intervals per range request: Datadog rolls a long range up into coarser points than the policy's interval.
RANGE_MAX_POINTS = 300


class DatadogSource(Source):
    """Datadog metric queries with `{{ version }}`-style placeholders, read over the sample interval.

    error_rate roles read counts (write them with `.as_count()`): the points in [at - interval, at)
    are summed, and no error points beside request points is 0 errors. latency/metric read the last
    point in the interval. One request covers the whole cache bucket holding `at`, so every
    verification sampling the same query in that bucket shares it.
    """

    def __init__(
        self,
        name: str,
        config: DatadogSourceConfig,
        *,
        plumbing: Plumbing = BARE,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: float = 0.5,
    ) -> None:
        self.name = name
        self._config = config
        self._now = now
        what, environ = f"source {name}", plumbing.environ
        api_key = resolve_secret(env=config.api_key_env, file=config.api_key_file, what=what, environ=environ)
        app_key = resolve_secret(env=config.app_key_env, file=config.app_key_file, what=what, environ=environ)
        # No client-side retries: ours (FetchLoop) honour the rate limiter and keep the thread free.
        # return_http_data_only=False: calls return (body, status, headers), so headers of a 2xx are seen.
        cfg = Configuration(  # type: ignore[no-untyped-call]
            host=config.host,
            return_http_data_only=False,
            request_timeout=config.timeout,
            retry_policy=urllib3.Retry(total=False),
        )
        if not config.host:
            cfg.server_variables["site"] = config.site  # ours, not a stray DD_SITE in the environment
        cfg.api_key = {}  # the client also reads DD_API_KEY/DD_APP_KEY; only configured keys count
        if api_key is not None:
            cfg.api_key["apiKeyAuth"] = api_key.get_secret_value()
        if app_key is not None:
            cfg.api_key["appKeyAuth"] = app_key.get_secret_value()
        self._client = ApiClient(cfg)
        # One pooled connection per worker thread, so no connection is thrown away under load.
        self._client.rest_client = RESTClientObject(  # type: ignore[no-untyped-call]
            cfg, maxsize=config.concurrency
        )
        # Any: with return_http_data_only=False the call returns a tuple, not what the stub says.
        self._api: Any = MetricsApi(self._client)  # type: ignore[no-untyped-call]
        self._executor = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix=f"dd-{name}")
        self._loop = FetchLoop.of(
            config, source=name, upstream=UPSTREAM, plumbing=plumbing, now=now, sleep=sleep, backoff=backoff
        )
        self.limiter = self._loop.limiter
        self._metrics = plumbing.metrics
        self.cache: QueryCache[tuple[object, ...], Fetched] = QueryCache(
            ttl=max(120.0, 4 * config.cache_bucket), keep=lambda f: f.error is None
        )

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        roles, how = role_queries(check, ctx, context=Context.DATADOG)
        if isinstance(roles, str):
            return Measurement(error=roles)
        end = at.timestamp()
        bucket = self._config.cache_bucket
        index = math.floor(end / bucket)
        # The request covers the whole bucket, so every `at` inside it is answered by one call.
        start_s, end_s = math.floor(index * bucket - interval), math.ceil((index + 1) * bucket)
        fetched = await asyncio.gather(
            *(
                self._cached(("sample", q, index, interval), query=q, start_s=start_s, end_s=end_s)
                for q in roles.values()
            )
        )
        values = {
            role: window_value(f.series, start=end - interval, end=end, how=how)
            for role, f in zip(roles, fetched, strict=True)
        }
        return combine(roles=list(roles), values=values, fetched=fetched)

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        roles, how = role_queries(check, ctx, context=Context.DATADOG)
        if isinstance(roles, str):
            return None
        start_s, end_s = math.floor(start.timestamp()), math.ceil(end.timestamp())
        fetched = await asyncio.gather(
            *(
                self._cached(("history", q, start_s, end_s), query=q, start_s=start_s, end_s=end_s)
                for q in roles.values()
            )
        )
        failed = [f.error for f in fetched if f.error]
        if failed:
            log.warning("source %s: no baseline for %s: %s", self.name, check.name, failed[0])
            return None
        per_role = {
            role: buckets(f.series, start=start.timestamp(), end=end.timestamp(), interval=interval, how=how)
            for role, f in zip(roles, fetched, strict=True)
        }
        if "requests" in per_role:
            errors, requests = error_rate_pairs(per_role["errors"], per_role["requests"])
            return Baseline({"errors": errors, "requests": requests}) if requests else None
        values = [v for v in per_role["value"] if v is not None]
        return Baseline({"value": values}) if values else None

    async def range_values(
        self, check: AnyCheck, *, grid: Grid, ctx: SampleContext, release_scoped: bool = True
    ) -> RangeValues:
        """Each role at every grid time; long ranges go out in pieces, since Datadog coarsens long ones."""
        roles, how = role_queries(check, ctx, context=Context.DATADOG)
        if isinstance(roles, str):
            return RangeValues(grid=grid, error=roles)
        values: dict[str, list[float | None]] = {}
        for role, query in roles.items():
            got: list[float | None] = []
            for part in grid.chunks(RANGE_MAX_POINTS):
                start_s = math.floor(part.start - part.interval)
                end_s = math.ceil(part.last)
                call = functools.partial(self._call, query=query, start_s=start_s, end_s=end_s)
                fetched = await patiently(functools.partial(self._loop.run, call), limiter=self.limiter)
                if fetched.error:
                    return RangeValues(grid=grid, error=fetched.error, kind=fetched.kind)
                got += read_grid(fetched.series, grid=part, how=how)
            values[role] = got
        zero_missing_error_grid(values)
        return RangeValues(grid=grid, values=values)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # ---- one query ------------------------------------------------------------------------------

    async def _cached(self, key: tuple[object, ...], *, query: str, start_s: int, end_s: int) -> Fetched:
        fetched, hit = await self.cache.get(
            key, lambda: self._loop.run(lambda: self._call(query=query, start_s=start_s, end_s=end_s))
        )
        if self._metrics is not None:
            self._metrics.source_cache.labels(source=self.name, result="hit" if hit else "miss").inc()
        return fetched

    async def _call(self, *, query: str, start_s: int, end_s: int) -> Fetched:
        """One HTTP call in a worker thread; failures leave as SourceError with a kind FetchLoop reads."""
        loop = asyncio.get_running_loop()
        try:
            data, _status, headers = await loop.run_in_executor(
                self._executor, lambda: self._api.query_metrics(_from=start_s, to=end_s, query=query)
            )
        except ApiException as exc:
            self._note(exc.headers)
            raise self._refusal(exc) from None
        except OpenApiException as exc:  # the client could not read the body into its model
            raise SourceError(f"malformed response from Datadog: {exc}", kind="parse") from None
        except urllib3.exceptions.NewConnectionError as exc:  # before TimeoutError: urllib3 2 subclasses it
            raise SourceError(f"cannot reach Datadog: {exc}", kind=ErrorKind.CONNECTION) from None
        except urllib3.exceptions.TimeoutError:
            raise SourceError(
                f"Datadog did not answer within {self._config.timeout:g} s", kind="timeout"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SourceError(f"cannot reach Datadog: {exc}", kind=ErrorKind.CONNECTION) from None
        self._note(headers)
        return Fetched(series=tuple(parse_query_response(data.to_dict())))

    def _refusal(self, exc: ApiException) -> SourceError:
        status = int(exc.status or 0)
        if status == 429:
            reset = header_float(exc.headers, "X-RateLimit-Reset")
            self.limiter.block(reset_at=None if reset is None else self._now() + reset)
            return SourceError(self.limiter.reason(), kind="rate_limited")
        if status >= 500 or status == 408:
            return SourceError(f"Datadog answered {status}", kind="http_5xx")
        detail = ""
        if isinstance(exc.body, dict) and isinstance(exc.body.get("errors"), list):
            detail = ": " + "; ".join(str(e) for e in exc.body["errors"])[:200]
        return SourceError(f"Datadog answered {status}{detail}", kind="http_4xx")

    def _note(self, headers: Mapping[str, str] | None) -> None:
        reset = header_float(headers, "X-RateLimit-Reset")  # Datadog: seconds from now, not an epoch
        self.limiter.update(
            limit=header_float(headers, "X-RateLimit-Limit"),
            remaining=header_float(headers, "X-RateLimit-Remaining"),
            reset_at=None if reset is None else self._now() + reset,
        )


def parse_query_response(body: Mapping[str, Any]) -> list[Series]:
    """The series of a v1 query answer; pointlist timestamps are milliseconds, values may be null."""
    if body.get("status") == "error" or body.get("error"):
        raise SourceError(f"Datadog query error: {body.get('error') or body.get('message')}", kind="query")
    raw = body.get("series")
    if not isinstance(raw, list):
        raise SourceError("malformed response from Datadog: no series list", kind="parse")
    out: list[Series] = []
    for item in raw:
        points: list[tuple[float, float]] = []
        for point in item.get("pointlist") or []:
            if not isinstance(point, list | tuple) or len(point) < 2 or finite(point[0]) is None:
                raise SourceError("malformed response from Datadog: bad point", kind="parse")
            value = finite(point[1])
            if value is None and point[1] is not None:
                raise SourceError("malformed response from Datadog: non-numeric value", kind="parse")
            if value is not None:
                points.append((float(point[0]) / 1000.0, value))
        points.sort()
        out.append(Series(scope=str(item.get("scope") or item.get("expression") or ""), points=tuple(points)))
    return out
