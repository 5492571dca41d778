"""The checks a policy runs after a deploy: http, error_rate, latency and metric.

A discriminated union on `type`, so a typo fails at `watchdog check`, never during a rollback.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from watchdog.policy.durations import Duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BaselineLimits(Strict):
    """Limits relative to the pre-deploy baseline; every given limit must be exceeded to breach."""

    max_ratio: float | None = Field(None, description="fail when value > baseline x max_ratio (must be > 1)")
    max_increase: float | None = Field(None, description="fail when value - baseline > max_increase")


class Expect(Strict):
    status: int = Field(200, description="the HTTP status the probe expects")
    json_: dict[str, Any] = Field(
        default_factory=dict,
        alias="json",
        description="fields the JSON body must hold; values may use {{ version }}",
    )
    body: str | None = Field(None, description="a regular expression the body must match")


class HttpCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["http"]
    url: str = Field(description="the URL to probe; may use {{ version }}, {{ service }}, {{ environment }}")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, description="${NAME} is read from the environment")
    expect: Expect = Field(default_factory=lambda: Expect())
    timeout: Duration = Field(2.0, description="a slower answer is a failing probe")
    source: str | None = Field(None, description="unused for http; `replay` in scenarios")


class ErrorRateCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["error_rate"]
    source: str | None = Field(None, description="a source named in config/watchdog.yaml")
    errors: str = Field("", description="query: errors in the sample interval")
    requests: str = Field("", description="query: requests in the sample interval")
    max: float | None = Field(None, description="absolute limit on errors/requests, 0..1")
    baseline: BaselineLimits | None = None
    min_requests: float = Field(0, ge=0, description="fewer requests in a sample: inconclusive")
    confidence: float | None = Field(None, description="baseline breaches must be significant at this level")


class LatencyCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["latency"]
    source: str | None = None
    query: str = ""
    max: float | None = Field(None, description="absolute limit, in the query's unit (seconds by convention)")
    baseline: BaselineLimits | None = None
    min_effect: float | None = Field(None, description="relative median shift a Mann-Whitney breach needs")
    confidence: float | None = None


class MetricCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["metric"]
    source: str | None = None
    query: str = ""
    max: float | None = None
    min: float | None = None
    baseline: BaselineLimits | None = None
    min_sessions: int | None = Field(
        None, ge=0, description="sentry crash-free rate: fewer sessions in the release is inconclusive"
    )


Check = Annotated[HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck, Field(discriminator="type")]
CHECK_TYPES = ("http", "error_rate", "latency", "metric")

# Query roles per check type: what a source is asked for, and what a scenario's `data` holds.
ROLES: dict[str, tuple[str, ...]] = {
    "http": ("up",),
    "error_rate": ("errors", "requests"),
    "latency": ("value",),
    "metric": ("value",),
}


def queries(check: HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck) -> dict[str, str]:
    """Role -> query text for a check (http has none)."""
    if isinstance(check, ErrorRateCheck):
        return {"errors": check.errors, "requests": check.requests}
    if isinstance(check, LatencyCheck | MetricCheck):
        return {"value": check.query}
    return {}
