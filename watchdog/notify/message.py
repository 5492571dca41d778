"""The notification every notifier sends: what happened to which deploy, with numbers and a report link.

Built by the engine from the store's detail and the report's summary; notify never imports reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from watchdog.policy.connections import NotifyEvent
from watchdog.store.records import DeploymentDetail

# Words for a header line: "checkout 2.4.1 rolled back in production".
HEADLINE: dict[str, str] = {
    "started": "is being verified",
    "passed": "passed verification",
    "failed": "failed verification",
    "inconclusive": "was inconclusive",
    "rolled_back": "was rolled back",
    "rollback_failed": "could not be rolled back",
}


@dataclass(frozen=True)
class Notification:
    event: NotifyEvent
    service: str
    environment: str
    version: str
    deployment_id: str
    state: str  # the lifecycle state, lower case
    verdict: str | None
    summary: str  # one sentence with numbers
    checks: tuple[str, ...] = ()  # one line per check
    report_url: str | None = None  # reports.base_url + /v1/incidents/{id}
    report_path: str | None = None
    previous_stable: str | None = None
    artifact: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The latest rollback attempt's state (refused, dry_run, intent, verified, failed ...) and trigger:
    # paging tells a refused automatic rollback from a plain failed verdict by these.
    rollback_state: str | None = None
    rollback_trigger: str | None = None
    # On a pass or a rollback: this service and environment's earlier deploys since its previous pass that
    # ended failed, inconclusive or rollback_failed, newest first (at most PAGED_BEFORE_LIMIT). Read from
    # the store, so the pages such deploys may have opened are resolved whatever process opened them.
    paged_before: tuple[str, ...] = ()

    @property
    def headline(self) -> str:
        return f"{self.service} {self.version} {HEADLINE.get(self.event, self.event)} in {self.environment}"

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "service": self.service,
            "environment": self.environment,
            "version": self.version,
            "artifact": self.artifact,
            "deployment_id": self.deployment_id,
            "state": self.state,
            "verdict": self.verdict,
            "headline": self.headline,
            "summary": self.summary,
            "checks": list(self.checks),
            "report_url": self.report_url,
            "report_path": self.report_path,
            "previous_stable": self.previous_stable,
            "rollback_state": self.rollback_state,
            "rollback_trigger": self.rollback_trigger,
            **({"extra": dict(self.extra)} if self.extra else {}),
            **({"paged_before": list(self.paged_before)} if self.paged_before else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        """The message again from `to_json` (the headline is derived): the outbox stores it that way."""
        return cls(
            event=data["event"],
            service=data["service"],
            environment=data["environment"],
            version=data["version"],
            deployment_id=data["deployment_id"],
            state=data["state"],
            verdict=data.get("verdict"),
            summary=data.get("summary", ""),
            checks=tuple(data.get("checks") or ()),
            report_url=data.get("report_url"),
            report_path=data.get("report_path"),
            previous_stable=data.get("previous_stable"),
            artifact=data.get("artifact"),
            extra=dict(data.get("extra") or {}),
            rollback_state=data.get("rollback_state"),
            rollback_trigger=data.get("rollback_trigger"),
            paged_before=tuple(data.get("paged_before") or ()),
        )


def incident_url(*, base_url: str | None, incident_id: str) -> str | None:
    return f"{base_url.rstrip('/')}/v1/incidents/{incident_id}" if base_url else None


def from_detail(
    *,
    event: NotifyEvent,
    detail: DeploymentDetail,
    summary: str,
    checks: Sequence[str] = (),
    base_url: str | None = None,
    report_path: str | None = None,
    previous_stable: str | None = None,
) -> Notification:
    """The usual way to build one: the engine passes reports.summary_sentence and reports.check_lines."""
    dep, ver = detail.deployment, detail.verification
    incident = detail.incident
    return Notification(
        event=event,
        **dep.release(),
        state=ver.state,
        verdict=ver.verdict,
        summary=summary,
        checks=tuple(checks),
        report_url=incident_url(base_url=base_url, incident_id=incident.id) if incident else None,
        report_path=report_path or (incident.path if incident else None),
        previous_stable=previous_stable
        or (f"{dep.previous_version} (assumed)" if dep.previous_version else None),
        rollback_state=detail.rollbacks[-1].state if detail.rollbacks else None,
        rollback_trigger=detail.rollbacks[-1].trigger if detail.rollbacks else None,
    )
