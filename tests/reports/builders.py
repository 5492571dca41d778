"""Hand-built store rows for report tests: fixed ids and times, so the Markdown is byte-for-byte stable.

One deploy of checkout 2.4.1 to production at 2026-11-01 12:00 UTC, in four endings.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import KNOWN_SECRET
from watchdog.analysis.models import Baseline
from watchdog.policy.connections import DaemonConfig
from watchdog.policy.service import EnvironmentPolicy
from watchdog.reports.model import ReportInput
from watchdog.store.records import (
    DeploymentDetail,
    DeploymentRow,
    RollbackRow,
    SampleRow,
    StableRow,
    TransitionRow,
    VerificationRow,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
DEP_ID = "0b6f6d0e-1111-4c2a-9a51-000000000001"
VER_ID = "0b6f6d0e-2222-4c2a-9a51-000000000002"
RB_ID = "0b6f6d0e-3333-4c2a-9a51-000000000003"
RB_VER_ID = "0b6f6d0e-4444-4c2a-9a51-000000000004"
ROLLBACK_OUTPUT = (
    "$ kubectl rollout undo deployment/checkout -n shop\n"
    f"pulling registry.example/checkout@sha256:1111 with {KNOWN_SECRET}\n"
    "deployment.apps/checkout rolled back | image checkout:2.4.0\n"
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def policy(**overrides: Any) -> EnvironmentPolicy:
    data: dict[str, Any] = {
        "verification": {"duration": "3m", "interval": "30s", "warmup": "30s", "failure_limit": 2},
        "target": "k8s-prod",
        "dashboards": {"Grafana": "https://grafana.example/d/checkout"},
        "checks": [
            {"name": "healthz", "type": "http", "url": "https://checkout.prod.internal/healthz"},
            {
                "name": "errors",
                "type": "error_rate",
                "source": "prometheus",
                "errors": 'sum(increase(http_requests_total{job="checkout",code=~"5.."}[30s]))',
                "requests": 'sum(increase(http_requests_total{job="checkout"}[30s]))',
                "max": 0.02,
                "baseline": {"max_ratio": 1.5, "max_increase": 0.005},
                "min_requests": 100,
            },
            {
                "name": "p99",
                "type": "latency",
                "source": "datadog",
                "query": "p99:trace.http.request.duration{service:checkout,env:prod}",
                "max": 0.8,
                "baseline": {"max_ratio": 1.3},
            },
            {"name": "crash-free", "type": "metric", "source": "sentry", "min": 0.99},
        ],
    }
    data.update(overrides)
    return EnvironmentPolicy.model_validate(data)


SOURCES = DaemonConfig.model_validate(
    {
        "sources": {
            "prometheus": {"type": "prometheus", "url": "http://prometheus:9090"},
            "datadog": {"type": "datadog", "api_key_env": "DD_API_KEY"},
            "sentry": {"type": "sentry", "organization": "acme", "project": "checkout"},
        }
    }
).sources

BASELINES = {
    "errors": Baseline(values={"errors": [4, 5, 3, 4], "requests": [1000, 1010, 990, 1000]}),
    "p99": Baseline(values={"value": [0.20, 0.22, 0.21, 0.19]}),
    "crash-free": Baseline(values={"value": [0.998, 0.999]}, origin="previous stable version's samples"),
    "healthz": None,
}


def deployment() -> DeploymentRow:
    return DeploymentRow(
        id=DEP_ID,
        service="checkout",
        environment="production",
        version="2.4.1",
        artifact="registry.example/checkout@sha256:2222",
        previous_version="2.4.0",
        previous_artifact="registry.example/checkout@sha256:1111",
        deployed_at=T0,
        received_at=at(1),
        deployer="ci",
        commit="9f1c2ab",
        changelog_url="https://git.example/checkout/compare/2.4.0...2.4.1",
        rollback_safe=True,
        is_rollback=False,
        labels={},
        source="generic",
        rollback_of=None,
        policy={},
    )


def verification(
    *,
    state: str,
    verdict: str | None,
    action: str | None,
    decided: float | None,
    failed: list[str],
    kind: str = "deploy",
    vid: str = VER_ID,
) -> VerificationRow:
    return VerificationRow(
        id=vid,
        deployment_id=DEP_ID,
        kind=kind,
        state=state,
        reason=f"{state} (test)",
        verdict=verdict,
        action=action,
        decided_after_s=decided,
        failed_checks=failed,
        version="2.4.1",
        artifact="registry.example/checkout@sha256:2222",
        starts_at=T0,
        interval_s=30.0,
        samples_total=6,
        next_k=7,
        next_sample_at=None,
        policy={},
        baseline=None,
        lease_owner=None,
        lease_until=None,
        lease_epoch=1,
        created_at=T0,
        updated_at=at(90),
        finished_at=at(90),
    )


def sample(check: str, k: int, outcome: str, observed: float | None, reason: str) -> SampleRow:
    # The error_rate check keeps its counters, as a source returns them: 1,000 requests an interval.
    counts = (
        {"values": {"errors": round(observed * 1000), "requests": 1000}, "error": None, "note": None}
        if check == "errors" and observed is not None
        else {}
    )
    return SampleRow(
        measurement=counts,
        verification_id=VER_ID,
        check_name=check,
        k=k,
        t=30.0 * k,
        taken_at=at(30 * k),
        outcome=outcome,
        reason=reason,
        observed=observed,
        warmup=k == 1,
    )


def steady(k_max: int, *, errors: bool = True) -> list[SampleRow]:
    rows = []
    for k in range(1, k_max + 1):
        rows.append(sample("healthz", k, "pass", 1.0, "status 200"))
        rows.append(sample("p99", k, "pass", 0.21 + 0.02 * k, f"p99 {210 + 20 * k} ms <= limit 800 ms"))
        rows.append(sample("crash-free", k, "pass", 0.999, "crash-free 0.999 >= min 0.99"))
        if errors:
            rows.append(sample("errors", k, "pass", 0.004, "error rate 0.4% <= limit 2.0%"))
    return rows


def transition(frm: str | None, to: str, seconds: float, reason: str, vid: str = VER_ID) -> TransitionRow:
    return TransitionRow(
        verification_id=vid, deployment_id=DEP_ID, from_state=frm, to_state=to, reason=reason, at=at(seconds)
    )


FAILING_ERRORS = [
    sample("errors", 1, "pass", 0.005, "error rate 0.5% <= limit 2.0% (warm-up)"),
    sample("errors", 2, "fail", 0.052, "error rate 5.2% > limit 2.0%"),
    sample("errors", 3, "fail", 0.061, "error rate 6.1% > limit 2.0%"),
]
START = [
    transition(None, "pending", 1, "event accepted"),
    transition("pending", "warming", 2, "sampling every 30 s"),
    transition("warming", "verifying", 31, "warm-up over"),
]
FAILED = transition(
    "verifying", "failed", 90, "errors failed 2 consecutive samples: error rate 6.1% > limit 2.0%"
)


def rollback(*, state: str, reason: str, attempts: int, finished: float | None) -> RollbackRow:
    return RollbackRow(
        id=RB_ID,
        deployment_id=DEP_ID,
        service="checkout",
        environment="production",
        trigger="auto",
        state=state,
        reason=reason,
        target="k8s-prod",
        from_version="2.4.1",
        from_artifact="registry.example/checkout@sha256:2222",
        to_version="2.4.0",
        to_artifact="registry.example/checkout@sha256:1111",
        output=ROLLBACK_OUTPUT,
        attempts=attempts,
        verification_id=RB_VER_ID if state == "verified" else None,
        requested_at=at(90),
        finished_at=None if finished is None else at(finished),
    )


STABLE = StableRow(
    service="checkout",
    environment="production",
    version="2.4.0",
    artifact="registry.example/checkout@sha256:1111",
    status="stable",
    deployment_id=None,
    since=T0 - timedelta(days=2),
    reason="passed verification",
)


def _report(detail: DeploymentDetail, pol: EnvironmentPolicy | None = None) -> ReportInput:
    return ReportInput(
        detail=detail,
        policy=pol or policy(),
        previous_stable=STABLE,
        baselines=BASELINES,
        links={"Runbook": "https://runbooks.example/checkout"},
        now=at(300),
        sources=SOURCES,
    )


def failed_rolled_back() -> ReportInput:
    rb_ver = replace(
        verification(
            state="passed",
            verdict="passed",
            action=None,
            decided=30.0,
            failed=[],
            kind="rollback",
            vid=RB_VER_ID,
        ),
        starts_at=at(98),
        interval_s=15.0,
    )
    restored = [
        replace(
            sample("healthz", k, "pass", 1.0, "status 200"),
            verification_id=RB_VER_ID,
            t=15.0 * k,
            taken_at=at(98 + 15 * k),
            warmup=False,
        )
        for k in (1, 2)
    ]
    detail = DeploymentDetail(
        rollback_samples=restored,
        deployment=deployment(),
        verification=verification(
            state="rolled_back", verdict="failed", action="rollback", decided=90.0, failed=["errors"]
        ),
        samples=steady(3, errors=False) + FAILING_ERRORS,
        transitions=[
            *START,
            FAILED,
            transition("failed", "rolling_back", 90.5, "on_failure: rollback to 2.4.0"),
            transition("rolling_back", "rolled_back", 128, "2.4.0 restored and verified"),
        ],
        rollbacks=[rollback(state="verified", reason="k8s-prod restored 2.4.0.", attempts=1, finished=125)],
        rollback_verifications=[rb_ver],
        incident=None,
    )
    return _report(detail)


def failed_alert() -> ReportInput:
    detail = DeploymentDetail(
        deployment=deployment(),
        verification=verification(
            state="failed", verdict="failed", action="alert", decided=90.0, failed=["errors"]
        ),
        samples=steady(3, errors=False) + FAILING_ERRORS,
        transitions=[*START, FAILED],
        rollbacks=[],
        rollback_verifications=[],
        incident=None,
    )
    return _report(detail, policy(on_failure="alert"))


def inconclusive() -> ReportInput:
    errors = [sample("errors", k, "inconclusive", None, "no data from prometheus") for k in range(1, 7)]
    errors[3] = sample("errors", 4, "pass", 0.004, "error rate 0.4% <= limit 2.0%")
    detail = DeploymentDetail(
        deployment=deployment(),
        verification=verification(
            state="inconclusive", verdict="inconclusive", action="alert", decided=180.0, failed=[]
        ),
        samples=steady(6, errors=False) + errors,
        transitions=[
            *START,
            transition("verifying", "inconclusive", 180, "errors: 1 of 5 judged samples conclusive"),
        ],
        rollbacks=[],
        rollback_verifications=[],
        incident=None,
    )
    return _report(detail)


def rollback_failed() -> ReportInput:
    reason = "k8s-prod: deployment checkout did not become available within 300 s"
    detail = DeploymentDetail(
        deployment=deployment(),
        verification=verification(
            state="rollback_failed", verdict="failed", action="rollback", decided=90.0, failed=["errors"]
        ),
        samples=steady(3, errors=False) + FAILING_ERRORS,
        transitions=[
            *START,
            FAILED,
            transition("failed", "rolling_back", 90.5, "on_failure: rollback to 2.4.0"),
            transition("rolling_back", "rollback_failed", 400, reason),
        ],
        rollbacks=[rollback(state="failed", reason=reason, attempts=3, finished=400)],
        rollback_verifications=[],
        incident=None,
    )
    return _report(detail)


def refused() -> ReportInput:
    base = failed_alert()
    row = replace(
        rollback(
            state="refused",
            reason="rollbacks are frozen for checkout/production: release freeze",
            attempts=0,
            finished=None,
        ),
        output="",
    )
    detail = replace(
        base.detail, rollbacks=[row], verification=replace(base.detail.verification, action="rollback")
    )
    return _report(detail)


CASES = {
    "failed-rolled-back": failed_rolled_back,
    "failed-alert": failed_alert,
    "inconclusive": inconclusive,
    "rollback-failed": rollback_failed,
}
