"""What the engine tells people: the post-mortem stub (written and updated in place) and notifications.

Both are best effort: a failure to write or notify is logged loudly and never blocks a rollback.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

from watchdog.analysis.models import Baseline
from watchdog.clock import Clock
from watchdog.events import State
from watchdog.notify.dispatcher import Dispatcher
from watchdog.notify.message import from_detail
from watchdog.policy.connections import NotifyEvent
from watchdog.policy.reload import PolicyHolder
from watchdog.policy.service import EnvironmentPolicy
from watchdog.reports.model import ReportInput
from watchdog.reports.stub import write_report
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


class Outputs:
    def __init__(
        self,
        *,
        store: Store,
        policies: PolicyHolder,
        clock: Clock,
        dispatcher: Dispatcher,
        reports_dir: Path,
    ) -> None:
        self.store = store
        self.policies = policies
        self.clock = clock
        self.dispatcher = dispatcher
        self.reports_dir = reports_dir

    async def deployment_changed(self, deployment_id: str, *, event: NotifyEvent) -> None:
        """Rewrites the report of a deployment (when its state calls for one) and notifies its channels."""
        try:
            v = await asyncio.to_thread(self.store.deploy_verification, deployment_id)
            if State(v.state) not in REPORTED and not v.policy.get("notify"):
                return  # a pass or a start nobody is told about: no report, no message, no reads
            detail = await asyncio.to_thread(self.store.deployment_detail, deployment_id)
            report = await self._report_input(detail)
            path: Path | None = None
            if State(detail.verification.state) in REPORTED or detail.rollbacks:
                path = await self._write_report(report)
                detail = await asyncio.to_thread(self.store.deployment_detail, deployment_id)
                report = replace(report, detail=detail)
            if report.policy.notify:
                notification = from_detail(
                    event=event,
                    detail=detail,
                    summary=summary_sentence(report),
                    checks=check_lines(report),
                    base_url=self.policies.current.daemon.reports.base_url,
                    report_path=str(path) if path else None,
                    previous_stable=report.previous_stable.shown if report.previous_stable else None,
                )
                self.dispatcher.notify(names=report.policy.notify, notification=notification)
        except Exception:
            log.exception("could not write the report or notify for deployment %s", deployment_id)

    async def _report_input(self, detail: DeploymentDetail) -> ReportInput:
        dep = detail.deployment
        previous = await asyncio.to_thread(
            self.store.rollback_candidate,
            service=dep.service,
            environment=dep.environment,
            exclude_artifact=dep.artifact,
        )
        raw = detail.verification.baseline or {}
        return ReportInput(
            detail=detail,
            policy=EnvironmentPolicy.model_validate(dep.policy),
            previous_stable=previous,
            baselines={name: (Baseline.from_json(b) if b else None) for name, b in raw.items()},
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
