"""What the engine tells people: the post-mortem stub (written and updated in place) and notifications.

The engine announces through the outbox (engine/outbox.py): a report is rewritten, each message sent durably.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from watchdog.clock import Clock
from watchdog.engine.prepared import baselines_of
from watchdog.events import State
from watchdog.notify.dispatcher import Dispatcher
from watchdog.notify.message import Notification, from_detail
from watchdog.policy.connections import NotifyEvent
from watchdog.policy.interned import shared_policy
from watchdog.policy.reload import PolicyHolder
from watchdog.reports.model import ReportInput
from watchdog.reports.postmortem import write_report
from watchdog.reports.summary import check_lines, summary_sentence
from watchdog.store import Store
from watchdog.store.records import DeploymentDetail

log = logging.getLogger(__name__)

# Reports are written for these outcomes; a plain pass gets no post-mortem.
REPORTED = {
    State.FAILED,
    State.INCONCLUSIVE,
    State.ROLLING_BACK,
    State.ROLLED_BACK,
    State.ROLLBACK_FAILED,
}


# The ends of a deploy that may have paged (a refused or failed rollback, an inconclusive verdict), and how
# many of them a pass resolves at most: older pages than that are an on-call's to close.
PAGING_ENDS = {State.FAILED, State.INCONCLUSIVE, State.ROLLBACK_FAILED}
PAGED_BEFORE_LIMIT = 20


@dataclass(kw_only=True, eq=False)
class Announcer:
    store: Store
    policies: PolicyHolder
    clock: Clock
    dispatcher: Dispatcher
    reports_dir: Path

    async def deployment_changed(self, deployment_id: str, *, event: NotifyEvent) -> None:
        """Rewrites the report and notifies at once, best effort (the engine itself goes through announce)."""
        try:
            for name, notification in await self.announce(deployment_id, event=event):
                self.dispatcher.notify(names=[name], notification=notification)
        except Exception:
            log.exception("could not write the report or notify for deployment %s", deployment_id)

    async def announce(self, deployment_id: str, *, event: str) -> list[tuple[str, Notification]]:
        """Rewrites the report of a deployment (when its state calls for one); returns what each notifier
        that wants `event` should be sent. Idempotent: a repeat rewrites the same report in place."""
        v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
        if State(v.state) not in REPORTED and not v.policy.get("notify"):
            return []  # a pass or a start nobody is told about: no report, no message, no reads
        detail = await asyncio.to_thread(self.store.deployment_detail, deployment_id)
        report = await self._report_input(detail)
        path: Path | None = None
        if State(detail.verification.state) in REPORTED or detail.rollbacks:
            path = await self._write_report(report)
            detail = await asyncio.to_thread(self.store.deployment_detail, deployment_id)
            report = replace(report, detail=detail)
        if not report.policy.notify:
            return []
        notification = from_detail(
            event=cast(NotifyEvent, event),
            detail=detail,
            summary=summary_sentence(report),
            checks=check_lines(report),
            base_url=self.policies.current.daemon.reports.base_url,
            report_path=str(path) if path else None,
            previous_stable=report.previous_stable.shown if report.previous_stable else None,
        )
        names: list[str] = []
        for name in dict.fromkeys(report.policy.notify):
            notifier = self.dispatcher.notifiers.get(name)
            if notifier is None:
                log.error("notifier %r is not configured", name)
            elif notification.event in notifier.events:
                names.append(name)
        if names and notification.event in ("passed", "rolled_back"):  # the store is read only when sent
            earlier = await asyncio.to_thread(self._paged_before, detail)
            notification = replace(notification, paged_before=earlier)
        return [(name, notification) for name in names]

    def _paged_before(self, detail: DeploymentDetail) -> tuple[str, ...]:
        """Earlier deploys of the same service and environment since their previous pass whose end may have
        paged (failed, inconclusive, rollback_failed), newest first: what a pass or a rollback resolves."""
        dep = detail.deployment
        page, _ = self.store.list_deployments(
            service=dep.service, environment=dep.environment, limit=PAGED_BEFORE_LIMIT + 50
        )
        out: list[str] = []
        seen_self = False
        for d, v in page:  # newest first
            if d.id == dep.id:
                seen_self = True
            elif seen_self:
                if v.state in (State.PASSED, State.PROMOTED):
                    break  # that pass resolved everything before it
                if v.state in PAGING_ENDS:
                    out.append(d.id)
                    if len(out) >= PAGED_BEFORE_LIMIT:
                        break
        return tuple(out)

    async def _report_input(self, detail: DeploymentDetail) -> ReportInput:
        dep = detail.deployment
        previous = await asyncio.to_thread(
            self.store.rollback_candidate,
            service=dep.service,
            environment=dep.environment,
            exclude_artifact=dep.artifact,
        )
        return ReportInput(
            detail=detail,
            policy=shared_policy(dep.policy),
            previous_stable=previous,
            baselines=baselines_of(detail.verification),
            links={},
            now=self.clock.now(),
            sources=dict(self.policies.current.daemon.sources),
        )

    async def _write_report(self, report: ReportInput) -> Path:
        template = self.policies.current.daemon.reports.template
        path = await asyncio.to_thread(
            write_report,
            report=report,
            reports_dir=self.reports_dir,
            template=Path(template) if template else None,
        )
        dep, v = report.detail.deployment, report.detail.verification
        title = f"{dep.service} {dep.version} in {dep.environment}: {v.state.replace('_', ' ')}"
        await asyncio.to_thread(
            self.store.upsert_incident,
            deployment_id=dep.id,
            service=dep.service,
            environment=dep.environment,
            version=dep.version,
            status=v.state,
            title=title,
            path=str(path),
            now=self.clock.now(),
        )
        log.info("post-mortem stub %s (%s)", path, v.state)
        return path

    async def drain(self, *, timeout: float) -> None:
        await self.dispatcher.drain(timeout)
