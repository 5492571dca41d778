"""The checks a policy runs after a deploy: http, error_rate, latency and metric.

A discriminated union on `type`, so a typo fails at `watchdog check`, never during a rollback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from watchdog.policy.durations import Duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


M = TypeVar("M", bound=Strict)


def shared_default(cls: type[M]) -> Callable[[], M]:
    """A default_factory handing out one instance of a frozen model, made at first use: every policy that
    leaves the section out shares it, rather than each holding its own copy of the same defaults."""
    return functools.cache(cls)


class BaselineLimits(Strict):
    """Limits relative to the pre-deploy baseline; every given limit must be exceeded to breach."""

    max_ratio: float | None = Field(None, description="fail when value > baseline x max_ratio (must be > 1)")
    max_increase: float | None = Field(None, description="fail when value - baseline > max_increase")
    compare_to: Literal["before", "control", "last_week"] = Field(
        "before",
        description="before: the baseline_window before the deploy; control: the stable version at the same "
        "time (the check's `control:` queries); last_week: the same window seven days earlier",
    )


class ErrorControl(Strict):
    """The stable version's queries, measured in the same sample as the check (compare_to: control)."""

    source: str | None = Field(None, description="defaults to the check's source")
    errors: str = Field(description="query: the stable version's errors in the sample interval")
    requests: str = Field(description="query: the stable version's requests in the sample interval")


class ValueControl(Strict):
    """The stable version's query for a latency or metric check (compare_to: control)."""

    source: str | None = Field(None, description="defaults to the check's source")
    query: str = Field(description="the stable version's value; may use {{ stable_version }}")


# Fields several check types share, described once.
Confidence = Annotated[
    float | None,
    Field(description="judge baseline limits by sequential evidence at this level (0.5 < c < 1)"),
]
MinEffect = Annotated[float | None, Field(description="relative shift a breach needs, on top of max_ratio")]
ValueControlField = Annotated[
    ValueControl | None, Field(description="the stable version's query, for compare_to: control")
]


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
    expect: Expect = Field(default_factory=shared_default(Expect))
    timeout: Duration = Field(2.0, description="a slower answer is a failing probe")
    source: str | None = Field(None, description="unused: an http check probes its url")


class ErrorRateCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["error_rate"]
    source: str | None = Field(None, description="a source named in config/watchdog.yaml")
    errors: str = Field("", description="query: errors in the sample interval")
    requests: str = Field("", description="query: requests in the sample interval")
    max: float | None = Field(None, description="absolute limit on errors/requests, 0..1")
    baseline: BaselineLimits | None = None
    min_requests: float = Field(0, ge=0, description="fewer requests in a sample: inconclusive")
    confidence: Confidence = None
    control: ErrorControl | None = Field(
        None, description="the stable version's queries, for compare_to: control"
    )


class LatencyCheck(Strict):
    name: str = Field(min_length=1)
    type: Literal["latency"]
    source: str | None = None
    query: str = ""
    max: float | None = Field(None, description="absolute limit, in the query's unit (seconds by convention)")
    baseline: BaselineLimits | None = None
    min_effect: MinEffect = None
    confidence: Confidence = None
    control: ValueControlField = None


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
    min_effect: MinEffect = None
    confidence: Confidence = None
    control: ValueControlField = None


Check = Annotated[HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck, Field(discriminator="type")]
CHECK_TYPES = ("http", "error_rate", "latency", "metric")

# Query roles per check type: what a source is asked for, and what a scenario's `data` holds.
ROLES: dict[str, tuple[str, ...]] = {
    "http": ("up",),
    "error_rate": ("errors", "requests"),
    "latency": ("value",),
    "metric": ("value",),
}


# The roles a check with compare_to: control also reads, measured at the same time as its own.
CONTROL_ROLES: dict[str, tuple[str, ...]] = {
    "error_rate": ("control_errors", "control_requests"),
    "latency": ("control_value",),
    "metric": ("control_value",),
}


def compare_to(check: HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck) -> str:
    """The check's comparison: before (default), control or last_week."""
    limits = None if isinstance(check, HttpCheck) else check.baseline
    return "before" if limits is None else limits.compare_to


def control_queries(check: HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck) -> dict[str, str]:
    """Control role -> query text (empty without a `control:` block)."""
    if isinstance(check, ErrorRateCheck):
        c = check.control
        return {} if c is None else {"control_errors": c.errors, "control_requests": c.requests}
    if isinstance(check, LatencyCheck | MetricCheck) and check.control is not None:
        return {"control_value": check.control.query}
    return {}


def queries(check: HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck) -> dict[str, str]:
    """Role -> query text for a check (http has none)."""
    if isinstance(check, ErrorRateCheck):
        return {"errors": check.errors, "requests": check.requests}
    if isinstance(check, LatencyCheck | MetricCheck):
        return {"value": check.query}
    return {}
