"""What the promotion gate reads beyond stable artifacts: the deploys of one artifact, and first deploys.

The pipeline facts (CI status, migration, rollback plan) travel on the events of earlier deploys.
"""

from __future__ import annotations

from sqlalchemy import select

from watchdog.store import rows
from watchdog.store.base import StoreBase
from watchdog.store.records import DeploymentRow
from watchdog.store.tables import deployments

d = deployments.c


class GateRepo(StoreBase):
    def artifact_deployments(self, *, service: str, artifact: str, limit: int = 20) -> list[DeploymentRow]:
        """Deploys of this exact artifact of the service, in any environment, newest first."""
        stmt = (
            select(deployments)
            .where(d.service == service, d.artifact == artifact)
            .order_by(d.received_at.desc(), d.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return self._all(conn, stmt, rows.deployment)

    def has_deployed(self, *, service: str, environment: str) -> bool:
        """Whether any deploy of the service to the environment was ever recorded."""
        stmt = select(d.id).where(d.service == service, d.environment == environment).limit(1)
        with self._read() as conn:
            return conn.scalar(stmt) is not None
