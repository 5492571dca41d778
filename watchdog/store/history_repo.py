"""Which artifact is stable, assumed stable or bad per (service, environment), and which passed where.

Rollback targets and the promotion gate are answered from these rows; scrape baselines from stable samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partialmethod

from sqlalchemy import Connection, and_, select

from watchdog.events import State
from watchdog.store import mapping
from watchdog.store.base import StoreBase
from watchdog.store.outbox_repo import MarkArtifact, write_mark
from watchdog.store.records import DeploymentRow, SampleRow, StableRow
from watchdog.store.schema import deployments, samples, stable_artifacts, verifications

_VERIFIED = (State.PASSED.value, State.PROMOTED.value)
st = stable_artifacts.c  # the columns every query here names
_CHUNK = 500  # ids per IN (...): well under any driver's limit on bound parameters


def rollback_candidate_in(
    conn: Connection, *, service: str, environment: str, exclude_artifact: str
) -> StableRow | None:
    """The newest verified stable artifact. An event's previous_artifact ("assumed_stable") is only a
    hint, used while nothing at all has been verified for this service and environment: a signed
    event must never outrank what passed verification. One rule for the guard rails and every reader."""
    scope = (st.service == service, st.environment == environment)
    newest = (st.since.desc(), st.id.desc())
    verified = select(stable_artifacts).where(*scope, st.status == "stable")
    found = StoreBase._first(
        conn, verified.where(st.artifact != exclude_artifact).order_by(*newest).limit(1), mapping.stable
    )
    if found is not None or StoreBase._first(conn, verified.limit(1), mapping.stable) is not None:
        return found
    assumed = select(stable_artifacts).where(
        *scope, st.status == "assumed_stable", st.artifact != exclude_artifact
    )
    return StoreBase._first(conn, assumed.order_by(*newest).limit(1), mapping.stable)


class HistoryRepo(StoreBase):
    def mark_stable(
        self,
        *,
        service: str,
        environment: str,
        version: str,
        artifact: str,
        deployment_id: str | None,
        now: datetime,
        status: str = "stable",
        reason: str = "",
    ) -> None:
        mark = MarkArtifact(
            service=service,
            environment=environment,
            version=version,
            artifact=artifact,
            deployment_id=deployment_id,
            status=status,
            reason=reason,
        )
        with self._write() as conn:
            write_mark(conn, mark, now=mapping.ts(now))

    # The same write with the other mark: the reason says why the artifact is bad.
    mark_bad = partialmethod(mark_stable, status="bad")

    def stable_history(self, *, service: str, environment: str) -> list[StableRow]:
        stmt = (
            select(stable_artifacts)
            .where(st.service == service, st.environment == environment)
            .order_by(st.since.desc(), st.id.desc())
        )
        with self._read() as conn:
            return self._all(conn, stmt, mapping.stable)

    def rollback_candidate(
        self, *, service: str, environment: str, exclude_artifact: str
    ) -> StableRow | None:
        with self._read() as conn:
            return rollback_candidate_in(
                conn, service=service, environment=environment, exclude_artifact=exclude_artifact
            )

    def start_reads(
        self, starts: Sequence[tuple[str, str]]
    ) -> dict[str, tuple[DeploymentRow, StableRow | None]]:
        """What starting verifications read, for many at once: (deployment id, artifact) in, per
        deployment id its row and the newest stable artifact other than `artifact` (rollback_candidate).

        One read transaction for a whole claim of starts instead of two per start; a deployment that is
        gone is left out (the caller reads it alone and hears NotFound).
        """
        found: dict[str, DeploymentRow] = {}
        ids = list(dict.fromkeys(dep for dep, _ in starts))
        out: dict[str, tuple[DeploymentRow, StableRow | None]] = {}
        with self._read() as conn:
            for i in range(0, len(ids), _CHUNK):
                stmt = select(deployments).where(deployments.c.id.in_(ids[i : i + _CHUNK]))
                found.update((d.id, d) for d in self._all(conn, stmt, mapping.deployment))
            for dep_id, artifact in starts:
                dep = found.get(dep_id)
                if dep is None:
                    continue
                stable = rollback_candidate_in(
                    conn, service=dep.service, environment=dep.environment, exclude_artifact=artifact
                )
                out[dep_id] = (dep, stable)
        return out

    def artifact_status(self, *, service: str, environment: str, artifact: str) -> StableRow | None:
        stmt = select(stable_artifacts).where(
            st.service == service, st.environment == environment, st.artifact == artifact
        )
        with self._read() as conn:
            return self._first(conn, stmt, mapping.stable)

    def passed_in(self, *, service: str, environment: str, artifact: str) -> DeploymentRow | None:
        d, v = deployments.c, verifications.c
        stmt = (
            select(deployments)
            .join(verifications, and_(v.deployment_id == d.id, v.kind == "deploy"))
            .where(
                d.service == service,
                d.environment == environment,
                d.artifact == artifact,
                v.state.in_(_VERIFIED),
            )
            .order_by(d.received_at.desc(), d.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            return self._first(conn, stmt, mapping.deployment)

    def stable_samples(
        self, *, service: str, environment: str, artifact: str, check_name: str, limit: int = 200
    ) -> list[SampleRow]:
        d, v, s = deployments.c, verifications.c, samples.c
        newest = (
            select(v.id)
            .join(deployments, d.id == v.deployment_id)
            .where(
                d.service == service,
                d.environment == environment,
                v.kind == "deploy",
                v.artifact == artifact,
                v.state.in_(_VERIFIED),
            )
            .order_by(d.received_at.desc(), d.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            verification_id = conn.scalar(newest)
            if verification_id is None:
                return []
            stmt = (
                select(samples)
                .where(s.verification_id == verification_id, s.check_name == check_name, s.warmup.is_(False))
                .order_by(s.k.desc())
                .limit(limit)
            )
            # The newest `limit` samples, handed back in time order.
            return list(reversed(self._all(conn, stmt, mapping.sample)))
