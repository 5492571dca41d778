"""One environment's policy, and the service file that holds a `defaults` layer and one layer per environment.

Every field has a default, so a layer validates alone; layers merge key by key (daemon -> service -> env).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from watchdog.policy.checks import Check, Strict, shared_default
from watchdog.policy.durations import Duration
from watchdog.policy.gate import GatePolicy

Action = Literal["rollback", "alert", "none"]


class Verification(Strict):
    duration: Duration = Field(600.0, description="the verification window after the deploy")
    interval: Duration = Field(30.0, description="one sample of every check per interval")
    warmup: Duration = Field(60.0, description="samples at t <= warmup are kept but not judged")
    failure_limit: int = Field(2, ge=1, description="consecutive failing judged samples of one check fail it")
    min_conclusive: float = Field(
        0.6, ge=0, le=1, description="each check needs this fraction of judged samples conclusive to pass"
    )
    baseline_window: Duration = Field(
        1800.0, description="the look-back before the deploy that forms the baseline"
    )
    confidence: float | None = Field(
        None, gt=0, lt=1, description="deploy-level guarantee, split across the checks with `confidence`"
    )
    pass_early: bool = Field(
        False, description="pass before the end once every check shows any regression is below its tolerance"
    )


class RollbackVerification(Strict):
    duration: Duration = Field(120.0, description="how long the restored version is verified")
    interval: Duration = 15.0
    warmup: Duration = 0.0
    failure_limit: int = Field(2, ge=1)
    min_conclusive: float = Field(0.6, ge=0, le=1)
    checks: Literal["all", "http"] | list[Annotated[str, Field(min_length=1)] | Check] = Field(
        "all",
        description="which checks verify the restored version: all (default; errors and latency compared "
        "with the stable version's own baseline), http (the probes only), or a list of check names "
        "and/or whole checks",
    )

    @field_validator("checks", mode="before")
    @classmethod
    def _stored_null_means_http(cls, value: object) -> object:
        # Policies stored before `all` became the default wrote null for "the http checks".
        return "http" if value is None else value


class RollbackPolicy(Strict):
    max_per_hour: int = Field(3, ge=0, description="automatic rollbacks per service+environment per hour")
    allow_major: bool = Field(False, description="roll back across a SemVer major version")
    verification: RollbackVerification = Field(default_factory=shared_default(RollbackVerification))


_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


class SilencePolicy(Strict):
    alertmanager: str = Field(description="an alertmanager named under notifiers: in config/watchdog.yaml")
    matchers: list[str] = Field(
        min_length=1,
        description='Alertmanager matchers, e.g. alertname="HighErrorRate", service=~"checkout.*"',
    )

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for m in value:
            if _MATCHER.match(m) is None:
                raise ValueError(f'matcher {m!r}: write name="value" (or =~, !=, !~ with a quoted value)')
        return value

    def parsed(self) -> list[dict[str, object]]:
        """The matchers as Alertmanager's API v2 takes them."""
        out: list[dict[str, object]] = []
        for m in self.matchers:
            found = _MATCHER.match(m)
            assert found is not None
            name, op, value = found.groups()
            value = re.sub(r"\\(.)", r"\1", value)
            out.append(
                {"name": name, "value": value, "isRegex": "~" in op, "isEqual": not op.startswith("!")}
            )
        return out


class EnvironmentPolicy(Strict):
    verification: Verification = Field(default_factory=shared_default(Verification))
    on_failure: Action = Field("rollback", description="what a failed verdict does; none = dry run")
    on_inconclusive: Action = Field("alert", description="what an inconclusive verdict does")
    rollback: RollbackPolicy = Field(default_factory=shared_default(RollbackPolicy))
    notify: list[str] = Field(default_factory=list, description="notifiers named in config/watchdog.yaml")
    dashboards: dict[str, str] = Field(default_factory=dict, description="title -> URL, linked from reports")
    target: str | None = Field(None, description="a deploy target named in config/watchdog.yaml")
    require_verified_in: str | None = Field(
        None, description="the gate: the same artifact must have passed in this environment first"
    )
    checks: list[Check] = Field(default_factory=list)
    gate: GatePolicy = Field(default_factory=shared_default(GatePolicy), description="the promotion gate")
    on_missing_source: Literal["degrade", "fail_start"] = Field(
        "degrade",
        description="a source whose secret is missing at start: degrade (its checks are inconclusive, the "
        "daemon starts) or fail_start (the daemon refuses to start)",
    )
    silence: SilencePolicy | None = Field(None, description="hold an Alertmanager silence while verifying")


class ServiceFile(Strict):
    """`config/services/<service>.yaml`."""

    service: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", description="must equal the file name")
    defaults: EnvironmentPolicy = Field(default_factory=lambda: EnvironmentPolicy())
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=dict)
