"""What a post-mortem is built from (`ReportInput`, plain data from the store and the policy) and the
per-check evidence derived from it, shared by the Markdown stub, the charts and the summary sentence.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from watchdog.analysis.models import Baseline
from watchdog.policy.checks import ErrorRateCheck, HttpCheck, LatencyCheck, MetricCheck
from watchdog.policy.connections import SourceConfig
from watchdog.policy.service import EnvironmentPolicy
from watchdog.store.records import DeploymentDetail, StableRow

AnyCheck = HttpCheck | ErrorRateCheck | LatencyCheck | MetricCheck


@dataclass(frozen=True)
class ReportInput:
    """Everything one report shows; the engine fills it from the store, tests build it by hand."""

    detail: DeploymentDetail
    policy: EnvironmentPolicy
    previous_stable: StableRow | None
    baselines: Mapping[str, Baseline | None]  # check name -> the baseline it was judged against
    links: Mapping[str, str]  # extra links: title -> URL
    now: datetime
    # Named sources of config/watchdog.yaml, so links to Sentry releases and Datadog queries can be built.
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    # The daemon's public URL (reports.base_url), for links back to the dashboard; None: a relative link.
    base_url: str | None = None


@dataclass(frozen=True)
class Point:
    t: float  # seconds after deploy
    value: float | None
    outcome: str  # pass | fail | inconclusive
    warmup: bool
    reason: str


@dataclass(frozen=True)
class CheckEvidence:
    """One check's numbers, in the check's unit (`percent` values are fractions, `seconds` are seconds)."""

    name: str
    type: str
    unit: str  # percent | seconds | number | up
    limit: float | None
    limit_min: float | None
    baseline_value: float | None
    band: tuple[float, float] | None  # baseline min..max, shaded on the chart
    points: tuple[Point, ...]
    failed: bool
    decided_after_s: float | None
    threshold_text: str
    baseline_text: str
    # After the decision: the restored version's samples of this check (the rollback's verification),
    # on the same clock (seconds after the bad deploy), and when the rollback was asked for.
    restored: tuple[Point, ...] = ()
    rollback_at: float | None = None

    @property
    def judged(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if not p.warmup)

    @property
    def failing(self) -> int:
        return sum(1 for p in self.judged if p.outcome == "fail")

    @property
    def conclusive(self) -> int:
        return sum(1 for p in self.judged if p.outcome != "inconclusive")

    @property
    def counts_text(self) -> str:
        missing = len(self.judged) - self.conclusive
        return f"{self.failing} / {len(self.judged)}" + (f" ({missing} inconclusive)" if missing else "")

    @property
    def deciding(self) -> Point | None:
        """The sample that decided this check: its last failing one, else its last judged one."""
        fails = [p for p in self.judged if p.outcome == "fail"]
        if fails:
            return fails[-1]
        return self.judged[-1] if self.judged else None

    @property
    def observed_text(self) -> str:
        values = [(p.t, p.value) for p in self.judged if p.value is not None]
        if not values:
            return "no data"
        if self.unit == "up":
            down = sum(1 for _, v in values if v < 0.5)
            return f"{down} of {len(values)} probes down"
        peak_t, peak = max(values, key=lambda tv: tv[1])
        return f"peak {fmt(peak, self.unit)} at +{secs(peak_t)}; last {fmt(values[-1][1], self.unit)}"

    @property
    def reason(self) -> str:
        point = self.deciding
        if point is None:
            return "no judged samples"
        if point.outcome == "pass" and not self.failed:
            return f"all {self.conclusive} conclusive samples within limits; last: {point.reason}"
        if point.outcome == "inconclusive":
            missing = len(self.judged) - self.conclusive
            return f"{missing} of {len(self.judged)} judged samples inconclusive; last: {point.reason}"
        return point.reason


def fmt(value: float | None, unit: str) -> str:
    """A value as people read it: error rates in percent, latencies in ms below one second."""
    if value is None:
        return "n/a"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "up":
        return "up" if value >= 0.5 else "down"
    return f"{value:g}"


def secs(seconds: float) -> str:
    return f"{seconds:.0f} s" if float(seconds).is_integer() else f"{seconds:.1f} s"


def unit_of(check: AnyCheck) -> str:
    return {"error_rate": "percent", "latency": "seconds", "http": "up"}.get(check.type, "number")


def _baseline_numbers(check: AnyCheck, baseline: Baseline | None) -> tuple[float | None, list[float]]:
    """(the value the rules compare against, the per-interval values that form the band)."""
    if baseline is None or isinstance(check, HttpCheck):
        return None, []
    if isinstance(check, ErrorRateCheck):
        errors = list(baseline.values.get("errors", []))
        requests = list(baseline.values.get("requests", []))
        total = sum(requests)
        rates = [e / r for e, r in zip(errors, requests, strict=False) if r > 0]
        return (sum(errors) / total if total > 0 else None), rates
    values = list(baseline.values.get("value", []))
    if not values:
        return None, []
    centre = statistics.median(values) if isinstance(check, LatencyCheck) else statistics.fmean(values)
    return centre, values


def _threshold_text(check: AnyCheck) -> str:
    unit = unit_of(check)
    if isinstance(check, HttpCheck):
        return f"status {check.expect.status} within {secs(check.timeout)}"
    parts = []
    if check.max is not None:
        parts.append(f"max {fmt(check.max, unit)}")
    if isinstance(check, MetricCheck) and check.min is not None:
        parts.append(f"min {fmt(check.min, unit)}")
    limits = check.baseline
    if limits is not None:
        rel = [f"× {limits.max_ratio:g}" if limits.max_ratio is not None else ""]
        if limits.max_increase is not None:
            rel.append(f"+ {fmt(limits.max_increase, unit)}")
        words = " and ".join(r for r in rel if r)
        if words:
            parts.append(f"baseline {words}")
    if isinstance(check, LatencyCheck) and check.min_effect is not None:
        parts.append(f"effect ≥ {check.min_effect * 100:.0f}%")
    if isinstance(check, ErrorRateCheck | LatencyCheck) and check.confidence is not None:
        parts.append(f"at {check.confidence * 100:.0f}% confidence")
    return "; ".join(parts) or "none"


def evidence(report: ReportInput) -> list[CheckEvidence]:
    """One entry per check of the policy, in policy order, with its samples of the deploy verification."""
    detail = report.detail
    vid = detail.verification.id
    at0 = detail.deployment.deployed_at
    offsets = {rv.id: (rv.starts_at - at0).total_seconds() for rv in detail.rollback_verifications}
    acted = [r for r in detail.rollbacks if r.state not in ("refused", "dry_run")]
    rollback_at = (acted[0].requested_at - at0).total_seconds() if acted else None
    out = []
    for check in report.policy.checks:
        restored = tuple(
            Point(
                t=offsets[s.verification_id] + s.t,
                value=s.observed,
                outcome=s.outcome,
                warmup=s.warmup,
                reason=s.reason,
            )
            for s in sorted(detail.rollback_samples, key=lambda s: (offsets.get(s.verification_id, 0), s.k))
            if s.check_name == check.name and s.verification_id in offsets
        )
        unit = unit_of(check)
        points = tuple(
            Point(t=s.t, value=s.observed, outcome=s.outcome, warmup=s.warmup, reason=s.reason)
            for s in sorted(detail.samples, key=lambda s: s.k)
            if s.check_name == check.name and s.verification_id == vid
        )
        baseline = report.baselines.get(check.name)
        centre, series = _baseline_numbers(check, baseline)
        band = (min(series), max(series)) if series else None
        if centre is None:
            baseline_text = "none (absolute limits only)" if unit != "up" else "n/a"
        else:
            label = {"seconds": "median", "number": "mean"}.get(unit, "")
            origin = baseline.origin if baseline is not None else ""
            baseline_text = f"{label} {fmt(centre, unit)}".strip() + f" ({len(series)} intervals, {origin})"
        out.append(
            CheckEvidence(
                name=check.name,
                type=check.type,
                unit=unit,
                limit=None if isinstance(check, HttpCheck) else check.max,
                limit_min=check.min if isinstance(check, MetricCheck) else None,
                baseline_value=centre,
                band=band,
                points=points,
                failed=check.name in detail.verification.failed_checks,
                decided_after_s=detail.verification.decided_after_s,
                threshold_text=_threshold_text(check),
                baseline_text=baseline_text,
                restored=restored,
                rollback_at=rollback_at,
            )
        )
    return out
