"""The impact estimate of a bad deploy: requests served and errors above the baseline during the bad window.

From the error_rate checks' own counters; the part of the window after the last sample is extrapolated at
the last sample's rates, and the sentence says how much was measured and how much was extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from watchdog.policy.checks import ErrorRateCheck
from watchdog.reports.model import ReportInput, fmt, secs


@dataclass(frozen=True)
class Impact:
    check: str
    window_s: float  # deploy -> verified rollback (or the last sample / now while it lasts)
    measured_s: float  # covered by samples
    requests: float  # served by the bad version in the window (estimated)
    errors: float
    expected_errors: float  # at the baseline rate
    baseline_rate: float | None
    ongoing: bool  # nothing restored yet: the window is still open

    @property
    def extra_errors(self) -> float:
        return max(0.0, self.errors - self.expected_errors)

    def sentence(self, version: str) -> str:
        end = "so far (not restored yet)" if self.ongoing else "from the deploy to the verified rollback"
        base = (
            f"at the baseline rate of {fmt(self.baseline_rate, 'percent')} about {self.expected_errors:,.0f} "
            f"would have failed: about **{self.extra_errors:,.0f} extra errors**"
            if self.baseline_rate is not None
            else "no baseline to compare with, so every error counts as extra"
        )
        tail = self.window_s - self.measured_s
        how = f"measured over {secs(round(self.measured_s))} of samples" + (
            f", the remaining {secs(round(tail))} extrapolated at the last sample's rates"
            if tail > 0.5
            else ""
        )
        return (
            f"{self.check}: in the bad window of {secs(round(self.window_s))} {end}, about "
            f"**{self.requests:,.0f} requests** were served by {version}, "
            f"of which {self.errors:,.0f} failed; {base} ({how})."
        )


def _window_end(report: ReportInput) -> tuple[datetime, bool]:
    detail = report.detail
    done = [t.at for t in detail.transitions if t.to_state == "rolled_back"]
    if done:
        return done[0], False
    finished = [r.finished_at for r in detail.rollbacks if r.state == "verified" and r.finished_at]
    if finished:
        return finished[0], False
    return report.now, True


def _count(measurement: dict[str, object], role: str) -> float | None:
    values = measurement.get("values")
    if not isinstance(values, dict):
        return None
    v = values.get(role)
    return float(v) if isinstance(v, int | float) else None


def estimate(report: ReportInput) -> list[Impact]:
    """One estimate per error_rate check that has counters; empty when there are none."""
    detail = report.detail
    dep, ver = detail.deployment, detail.verification
    end, ongoing = _window_end(report)
    window = max(0.0, (end - dep.deployed_at).total_seconds())
    out = []
    for check in report.policy.checks:
        if not isinstance(check, ErrorRateCheck):
            continue
        counted = []
        for s in sorted(detail.samples, key=lambda s: s.k):
            if s.check_name != check.name or s.verification_id != ver.id:
                continue
            e, r = _count(s.measurement, "errors"), _count(s.measurement, "requests")
            if e is not None and r is not None:
                counted.append((s.t, e, r))
        if not counted:
            continue
        interval = ver.interval_s
        measured = min(window, counted[-1][0])
        errors = sum(e for _, e, _ in counted)
        requests = sum(r for _, _, r in counted)
        tail = max(0.0, window - measured)
        if tail > 0 and interval > 0:
            _, last_e, last_r = counted[-1]
            errors += last_e * tail / interval
            requests += last_r * tail / interval
        baseline = report.baselines.get(check.name)
        rate = None
        if baseline is not None:
            b_err = sum(baseline.values.get("errors", []))
            b_req = sum(baseline.values.get("requests", []))
            rate = b_err / b_req if b_req > 0 else None
        out.append(
            Impact(
                check=check.name,
                window_s=window,
                measured_s=measured,
                requests=requests,
                errors=errors,
                expected_errors=(rate or 0.0) * requests,
                baseline_rate=rate,
                ongoing=ongoing,
            )
        )
    return out


def impact_lines(report: ReportInput) -> list[str]:
    version = report.detail.deployment.version
    found = estimate(report)
    if not found:
        return [
            "No error_rate check with request counters: the daemon cannot estimate the impact from its own "
            "data; see the charts and the links below."
        ]
    return [i.sentence(version) for i in found]
