"""What the promotion gate reads beyond stable artifacts: the deploys of one artifact, and first deploys.

The pipeline facts (CI status, migration, rollback plan) travel on the events of earlier deploys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from watchdog.errors import StoreError
from watchdog.store import mapping
from watchdog.store.delivery_repo import DeliveryRepo
from watchdog.store.records import DeliveryRow, DeploymentRow
from watchdog.store.schema import ci_runs, deliveries, deployments

d = deployments.c


@dataclass(frozen=True)
class CiRunRow:
    id: int
    source: str
    service: str
    commit: str
    status: str
    ref: str | None
    url: str | None
    received_at: datetime


class GateRepo(DeliveryRepo):
    def artifact_deployments(self, *, service: str, artifact: str, limit: int = 20) -> list[DeploymentRow]:
        """Deploys of this exact artifact of the service, in any environment, newest first."""
        stmt = (
            select(deployments)
            .where(d.service == service, d.artifact == artifact)
            .order_by(d.received_at.desc(), d.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return self._all(conn, stmt, mapping.deployment)

    def has_deployed(self, *, service: str, environment: str) -> bool:
        """Whether any deploy of the service to the environment was ever recorded."""
        stmt = select(d.id).where(d.service == service, d.environment == environment).limit(1)
        with self._read() as conn:
            return conn.scalar(stmt) is not None

    def record_ci_run(
        self,
        *,
        source: str,
        delivery_id: str,
        response: dict[str, Any],
        service: str,
        commit: str,
        status: str,
        ref: str | None,
        url: str | None,
        now: datetime,
    ) -> DeliveryRow:
        """The run and the delivery's answer in one transaction: a retried delivery records nothing twice."""
        at = mapping.ts(now)
        try:
            with self._write() as conn:
                conn.execute(
                    insert(deliveries).values(
                        source=source,
                        delivery_id=delivery_id,
                        received_at=at,
                        status_code=200,
                        response=dict(response),
                        deployment_id=None,
                    )
                )
                conn.execute(
                    insert(ci_runs).values(
                        source=source,
                        service=service,
                        commit=commit,
                        status=status,
                        ref=ref,
                        url=url,
                        received_at=at,
                    )
                )
        except IntegrityError:
            pass  # a retry raced us on the delivery's unique key: the first one recorded the run
        found = self.find_delivery(source=source, delivery_id=delivery_id)
        if found is None:
            raise StoreError(f"delivery {source}/{delivery_id} vanished after it was written")
        return found

    def latest_ci_run(self, *, service: str, commits: Sequence[str]) -> CiRunRow | None:
        """The newest recorded pipeline status of any of these commits."""
        if not commits:
            return None
        c = ci_runs.c
        stmt = (
            select(ci_runs)
            .where(c.service == service, c.commit.in_(list(commits)))
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return CiRunRow(
            **{k: row[k] for k in CiRunRow.__dataclass_fields__}
            | {"received_at": mapping.ts(row["received_at"])}
        )
