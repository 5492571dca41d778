"""The `prometheus` source: PromQL instant queries for samples and range queries for the baseline.

Speaks the Prometheus HTTP API envelope; auth (bearer or basic) and tenant headers come from a fronting proxy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from watchdog.analysis.models import Baseline, Measurement
from watchdog.errors import ConfigError, SourceError
from watchdog.plumbing import BARE, Plumbing
from watchdog.policy.checks import queries
from watchdog.policy.connections import PrometheusSourceConfig
from watchdog.policy.secrets import expand_env, resolve_secret
from watchdog.redact import redact
from watchdog.sources.base import AnyCheck, SampleContext, Source
from watchdog.sources.counts import zero_missing_error_grid, zero_missing_error_points, zero_missing_errors
from watchdog.sources.httpclient import SourceHttp
from watchdog.sources.ranges import Grid, RangeValues
from watchdog.templating import Context, TemplateError, render

NO_DATA = "no data"
# Prometheus refuses a range query of more than 11,000 points per series.
RANGE_MAX_POINTS = 11000


class PrometheusSource(Source):
    """Each query role of a check is one PromQL expression that must return a single series (or a scalar).

    Queries may use `{{ version }}`, `{{ service }}`, `{{ environment }}`, `{{ artifact }}`,
    `{{ deployment_id }}` and `{{ interval }}` (the sample interval as a PromQL duration, e.g. `30s`).
    """

    def __init__(
        self,
        name: str,
        config: PrometheusSourceConfig,
        *,
        plumbing: Plumbing = BARE,
        backoff: float = 0.25,
    ) -> None:
        self.name = name
        self.config = config
        self._environ = plumbing.environ
        self._base = config.url.rstrip("/")
        self._http = SourceHttp(
            source=name,
            timeout=config.timeout,
            concurrency=config.concurrency,
            retries=config.retries,
            plumbing=plumbing,
            backoff=backoff,
        )

    async def sample(
        self, check: AnyCheck, *, at: datetime, interval: float, ctx: SampleContext
    ) -> Measurement:
        roles = queries(check)
        if not roles:
            return Measurement(error=f"the prometheus source has no query for a {check.type} check")
        values: dict[str, float | None] = {}
        for role, query in roles.items():
            try:
                data = await self._call(
                    "query", {"query": self._render(query, ctx, interval), "time": _unix(at)}
                )
                value = _instant_value(data)
            except SourceError as exc:
                prefix = f"{role}: " if len(roles) > 1 else ""
                return Measurement(values=values, error=redact(prefix + str(exc)))
            values[role] = value
        # An empty vector for the 5xx selector while requests flow is zero errors, not missing data.
        values, notes = zero_missing_errors(values)
        for role, value in values.items():
            if value is None:
                notes.append(f"{role}: {NO_DATA}" if len(roles) > 1 else NO_DATA)
        return Measurement(values=values, note="; ".join(notes) or None)

    async def history(
        self, check: AnyCheck, *, start: datetime, end: datetime, interval: float, ctx: SampleContext
    ) -> Baseline | None:
        """Values at start, start + interval, ... < end; roles aligned on the timestamps all of them have.

        Raises SourceError when a query breaks: the engine then judges without a baseline and says why.
        """
        roles = queries(check)
        if not roles or interval <= 0 or end <= start:
            return None
        # query_range includes `end`; stop just short of it so the window stays half-open.
        last = _unix(start) + math.floor((_unix(end) - _unix(start) - 1e-6) / interval) * interval
        raw: dict[str, dict[float, float | None]] = {}
        for role, query in roles.items():
            params = {
                "query": self._render(query, ctx, interval),
                "start": _unix(start),
                "end": last,
                "step": f"{interval:g}",
            }
            raw[role] = _range_values(await self._call("query_range", params))
        # A step where the errors query has no point at all but requests do is 0 errors; NaN stays a gap.
        series = {
            role: {t: v for t, v in points.items() if v is not None}
            for role, points in zero_missing_error_points(raw).items()
        }
        common = sorted(set.intersection(*(set(points) for points in series.values())))
        return Baseline(values={role: [points[t] for t in common] for role, points in series.items()})

    async def range_values(
        self, check: AnyCheck, *, grid: Grid, ctx: SampleContext, release_scoped: bool = True
    ) -> RangeValues:
        """Each role at every grid time through query_range (step = interval), paged under 11,000 points."""
        roles = queries(check)
        if not roles:
            return RangeValues(
                grid=grid, error=f"the prometheus source has no query for a {check.type} check"
            )
        values: dict[str, list[float | None]] = {}
        for role, query in roles.items():
            points: dict[float, float | None] = {}
            for part in grid.chunks(RANGE_MAX_POINTS):
                params = {
                    "query": self._render(query, ctx, grid.interval),
                    "start": part.start,
                    "end": part.last,
                    "step": f"{grid.interval:g}",
                }
                try:
                    points.update(_range_values(await self._call("query_range", params)))
                except SourceError as exc:
                    prefix = f"{role}: " if len(roles) > 1 else ""
                    return RangeValues(grid=grid, error=redact(prefix + str(exc)), kind=exc.kind)
            values[role] = [points.get(round(t, 3)) for t in grid.times]
        zero_missing_error_grid(values)
        return RangeValues(grid=grid, values=values)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _render(self, query: str, ctx: SampleContext, interval: float) -> str:
        values = {**ctx.placeholders(), "interval": f"{max(1, round(interval))}s"}
        try:
            return render(query, values, context=Context.PROMQL)
        except TemplateError as exc:
            raise SourceError(str(exc), kind="config") from None

    def _auth(self) -> tuple[dict[str, str], httpx.Auth | None]:
        cfg, env = self.config, self._environ
        try:
            headers = {k: expand_env(v, environ=env) for k, v in cfg.headers.items()}
            what = f"source {self.name}"
            token = resolve_secret(
                env=cfg.bearer_token_env, file=cfg.bearer_token_file, what=what, environ=env
            )
            if token is not None:
                headers["Authorization"] = f"Bearer {token.get_secret_value()}"
                return headers, None
            password = resolve_secret(env=cfg.password_env, file=cfg.password_file, what=what, environ=env)
        except ConfigError as exc:
            raise SourceError(str(exc), kind="config") from None
        if cfg.username is not None:
            secret = "" if password is None else password.get_secret_value()
            return headers, httpx.BasicAuth(cfg.username, secret)
        return headers, None

    async def _call(self, endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The `data` of a successful answer; an error envelope becomes SourceError("errorType: error")."""
        headers, auth = self._auth()
        response = await self._http.request(
            "GET",
            f"{self._base}/api/v1/{endpoint}",
            params=params,
            headers=headers,
            auth=auth,
            check_status=False,
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            # 401/403/502 from a proxy carry no envelope: report the status, not a JSON error.
            if response.status_code >= 400:
                raise SourceError(
                    f"HTTP {response.status_code} from {self.name}", kind=_kind(response.status_code)
                )
            raise SourceError(f"{self.name} answered without a Prometheus envelope", kind="parse")
        if body.get("status") != "success":
            kind = str(body.get("errorType") or "error")
            raise SourceError(redact(f"{kind}: {body.get('error') or 'unknown error'}"), kind=kind)
        data = body.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"{self.name} answered success without data", kind="parse")
        return data


def _kind(status: int) -> str:
    return "rate_limited" if status == 429 else ("http_5xx" if status >= 500 else "http_4xx")


def _unix(at: datetime) -> float:
    return at.timestamp()


def _number(raw: Any) -> float | None:
    """A sample value string ("0.5", "NaN", "+Inf") as a float; NaN reads as no data (0/0)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SourceError(f"sample value {raw!r} is not a number", kind="parse") from None
    return None if math.isnan(value) else value


def _instant_value(data: Mapping[str, Any]) -> float | None:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _number(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise SourceError(
                f"query returns {len(result)} series; aggregate it (e.g. sum(...))", kind="query"
            )
        return _number(result[0].get("value", [None, None])[1])
    if kind == "matrix":
        raise SourceError(
            "query returns a range vector; use an instant vector (e.g. rate(x[5m]))", kind="query"
        )
    raise SourceError(f"query returns a {kind} result; expected a vector or scalar", kind="query")


def _range_values(data: Mapping[str, Any]) -> dict[float, float | None]:
    kind, result = data.get("resultType"), data.get("result")
    if kind != "matrix" or not isinstance(result, list):
        raise SourceError(f"range query returns a {kind} result; expected a matrix", kind="parse")
    if len(result) > 1:
        raise SourceError(f"query returns {len(result)} series; aggregate it (e.g. sum(...))", kind="query")
    points: dict[float, float | None] = {}
    for stamp, raw in result[0].get("values", []) if result else []:
        points[round(float(stamp), 3)] = _number(raw)  # None: NaN, a step without a value
    return points
