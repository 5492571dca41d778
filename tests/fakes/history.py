"""A seeded deploy history written through the Store's own methods, for the ledger, the dashboard and bench.

Each `seed` call leaves one deployment in a named outcome with samples, transitions and rollback rows
exactly as the engine writes them, so what reads them (stats, pages) sees what a live daemon would leave.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from watchdog.events import DeployEvent
from watchdog.store import Store
from watchdog.store.records import SampleRow

Outcome = Literal[
    "passed", "inconclusive", "rolled_back", "rollback_failed", "refused", "verifying", "alerted"
]

POLICY: dict[str, Any] = {
    "verification": {"duration": 120.0, "interval": 30.0, "warmup": 0.0, "failure_limit": 2},
    "on_failure": "rollback",
    "checks": [
        {
            "name": "errors",
            "type": "error_rate",
            "source": "prometheus",
            "errors": 'sum(increase(http_requests_total{code=~"5.."}[30s]))',
            "requests": "sum(increase(http_requests_total[30s]))",
            "max": 0.02,
        }
    ],
}
OWNER = "seed"


def _sample(verification_id: str, k: int, at: datetime, *, errors: float, requests: float) -> SampleRow:
    rate = errors / requests
    bad = rate > 0.02
    return SampleRow(
        verification_id=verification_id,
        check_name="errors",
        k=k,
        t=30.0 * k,
        taken_at=at,
        outcome="fail" if bad else "pass",
        reason=f"error rate {rate * 100:.1f}% ({errors:g} of {requests:g}) "
        + ("above" if bad else "within")
        + " the limit 2.0%",
        observed=rate,
        warmup=False,
        measurement={"values": {"errors": errors, "requests": requests}, "error": None, "note": None},
    )


def seed(
    store: Store,
    *,
    service: str,
    environment: str,
    version: str,
    at: datetime,
    outcome: Outcome,
    recovery_s: float = 90.0,
    trigger: str = "auto",
    samples: bool = True,
    policy: dict[str, Any] | None = None,
) -> str:
    """One deployment deployed at `at`; returns its id. rolled_back: verified `recovery_s` after `at`."""
    acc = store.accept_event(
        event=DeployEvent(
            service=service,
            environment=environment,
            version=version,
            artifact=f"registry.example/{service}@sha256:{version}",
            deployed_at=at,
        ),
        source="generic",
        delivery_id=None,
        policy=POLICY if policy is None else policy,
        now=at,
    )
    dep, ver = acc.deployment, acc.verification
    assert store.take_lease(verification_id=ver.id, owner=OWNER, now=at, lease_s=3600)
    epoch = store.get_verification(ver.id).lease_epoch
    bad = outcome in ("rolled_back", "rollback_failed", "refused", "alerted")
    n = 2 if outcome == "verifying" else 4 if not bad else 2
    rows = [
        _sample(ver.id, k, at + timedelta(seconds=30 * k), errors=(60 if bad else 2), requests=1000)
        for k in range(1, n + 1)
    ]
    t_end = at + timedelta(seconds=30 * n)
    if outcome == "verifying":
        store.record_step(
            verification_id=ver.id,
            owner=OWNER,
            epoch=epoch,
            now=t_end,
            samples=rows if samples else [],
            next_k=n + 1,
            next_sample_at=t_end + timedelta(seconds=30),
            transition=("verifying", "sampling"),
        )
        return dep.id
    verdict = "failed" if bad else outcome
    store.record_step(
        verification_id=ver.id,
        owner=OWNER,
        epoch=epoch,
        now=t_end,
        samples=rows if samples else [],
        next_k=n + 1,
        next_sample_at=None,
        transition=(verdict, f"verdict {verdict}"),
        verdict=verdict,
        action="rollback" if bad and outcome != "alerted" else "alert" if bad else None,
        decided_after_s=30.0 * n,
        failed_checks=["errors"] if bad else [],
    )
    if not bad or outcome == "alerted":
        return dep.id
    state = "refused" if outcome == "refused" else "intent"
    rb = store.create_rollback(
        deployment_id=dep.id,
        service=service,
        environment=environment,
        trigger=trigger,
        state=state,
        reason="a guard rail refused it" if state == "refused" else "errors failed",
        target="k8s",
        from_version=version,
        from_artifact=dep.artifact,
        to_version="1.0.0",
        to_artifact=f"registry.example/{service}@sha256:1.0.0",
        now=t_end,
    )
    if outcome == "refused":
        return dep.id
    store.set_state(verification_id=ver.id, to_state="rolling_back", reason="rolling back", now=t_end)
    done = at + timedelta(seconds=recovery_s)
    if outcome == "rolled_back":
        store.update_rollback(rollback_id=rb.id, now=done, state="verified", attempts=1, finished=True)
        store.set_state(
            verification_id=ver.id, to_state="rolled_back", reason="restored and verified", now=done
        )
    else:
        store.update_rollback(
            rollback_id=rb.id, now=done, state="failed", attempts=3, reason="target said no", finished=True
        )
        store.set_state(verification_id=ver.id, to_state="rollback_failed", reason="target said no", now=done)
    return dep.id
