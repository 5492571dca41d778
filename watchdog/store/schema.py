"""The state store's schema: SQLAlchemy Table definitions with readable columns, never pickled objects.

Every verification's progress (next sample due, samples, transitions, lease) lives here, so a restart
or another replica rebuilds the schedule from these rows alone.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)

deployments = Table(
    "deployments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("artifact", String(1000), nullable=False),
    Column("previous_version", String(200)),
    Column("previous_artifact", String(1000)),
    Column("deployed_at", TS, nullable=False),
    Column("received_at", TS, nullable=False),
    Column("deployer", String(200)),
    Column("commit", String(100)),
    Column("changelog_url", Text),
    Column("rollback_safe", Boolean, nullable=False, default=True),
    Column("is_rollback", Boolean, nullable=False, default=False),
    Column("labels", JSON, nullable=False, default=dict),
    Column("source", String(20), nullable=False),  # generic | github | gitlab | argocd | rollback | cli
    Column("rollback_of", String(36)),  # the failed deployment this deploy restores from
    Column("echo_of", String(36)),  # the rollback (id) whose redeploy the deploy system echoed back to us
    Column("policy", JSON, nullable=False),  # the resolved environment policy at intake
    Column("pipeline", JSON),  # what the pipeline knew: ci/lint status, migration, rollback plan (the gate)
    Index("ix_deployments_service_env_received", "service", "environment", "received_at"),
    Index("ix_deployments_received", "received_at", "id"),  # the unfiltered newest-first list
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # deploy | rollback
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("verdict", String(20)),
    Column("action", String(20)),  # rollback | alert | none, once decided
    Column("decided_after_s", Float),
    Column("failed_checks", JSON, nullable=False, default=list),
    Column("version", String(200), nullable=False),  # the version verified ({{ version }})
    Column("artifact", String(1000), nullable=False),
    Column("starts_at", TS, nullable=False),  # deploy_at: sample k is due at starts_at + k x interval
    Column("interval_s", Float, nullable=False),
    Column("samples_total", Integer, nullable=False),  # duration / interval
    Column("next_k", Integer, nullable=False, default=1),
    Column("next_sample_at", TS),  # NULL once final
    Column("policy", JSON, nullable=False),  # verification timing + checks used
    Column("baseline", JSON),  # check name -> Baseline.to_json() | null
    Column("lease_owner", String(100)),
    Column("lease_until", TS),
    Column("lease_epoch", Integer, nullable=False, default=0),  # fencing: bumped on every claim
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("finished_at", TS),
    Index("ix_verifications_due", "next_sample_at"),
    Index("ix_verifications_deployment", "deployment_id"),
    Index("ix_verifications_state", "state", "kind"),  # intake's live verification of a service
)

samples = Table(
    "samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verification_id", String(36), ForeignKey("verifications.id"), nullable=False),
    Column("check_name", String(100), nullable=False),
    Column("k", Integer, nullable=False),
    Column("t", Float, nullable=False),
    Column("taken_at", TS, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("observed", Float),
    Column("warmup", Boolean, nullable=False, default=False),
    Column("measurement", JSON, nullable=False),  # Measurement.to_json()
    UniqueConstraint("verification_id", "check_name", "k", name="uq_samples_verification_check_k"),
)

transitions = Table(
    "transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verification_id", String(36), ForeignKey("verifications.id"), nullable=False),
    Column("deployment_id", String(36), nullable=False),
    Column("from_state", String(20)),
    Column("to_state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", TS, nullable=False),
    Index("ix_transitions_deployment", "deployment_id"),
)

rollbacks = Table(
    "rollbacks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id"), nullable=False),
    Column("service", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("trigger", String(10), nullable=False),  # auto | manual
    # refused | intent | succeeded | failed | verifying | verified | verify_failed | dry_run
    Column("state", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("target", String(100)),
    Column("from_version", String(200), nullable=False),
    Column("from_artifact", String(1000), nullable=False),
    Column("to_version", String(200)),
    Column("to_artifact", String(1000)),
    Column("output", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("verification_id", String(36)),
    Column("requested_at", TS, nullable=False),
    Column("finished_at", TS),
    Index("ix_rollbacks_service_env_time", "service", "environment", "requested_at"),
    Index("ix_rollbacks_deployment", "deployment_id"),
)

stable_artifacts = Table(
    "stable_artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("artifact", String(1000), nullable=False),
    Column("status", String(20), nullable=False),  # stable | assumed_stable | bad
    Column("deployment_id", String(36)),
    Column("since", TS, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    UniqueConstraint("service", "environment", "artifact", name="uq_stable_artifacts_service_env_artifact"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("received_at", TS, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("deployment_id", String(36)),
    UniqueConstraint("source", "delivery_id", name="uq_deliveries_source_delivery"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id"), nullable=False, unique=True),
    Column("service", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("version", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # the deployment state at the last update
    Column("title", Text, nullable=False),
    Column("path", Text, nullable=False),  # the Markdown file under the reports directory
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

freezes = Table(
    "freezes",
    metadata,
    Column("service", String(100), primary_key=True),
    Column("environment", String(100), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200)),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS),
)

# A CI pipeline's finished status for a commit (GitLab Pipeline Hooks): the gate's `tests` item reads it
# when neither the gate request nor a deploy event says ci_status.
ci_runs = Table(
    "ci_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(20), nullable=False),
    Column("service", String(100), nullable=False),
    Column("commit", String(100), nullable=False),
    Column("status", String(20), nullable=False),  # success | failure
    Column("ref", String(200)),
    Column("url", Text),
    Column("received_at", TS, nullable=False),
    Index("ix_ci_runs_service_commit", "service", "commit", "received_at"),
)

# Manual rollbacks and promotions, asked of any replica and carried out by whoever holds the lease.
operator_requests = Table(
    "operator_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id"), nullable=False),
    Column("kind", String(10), nullable=False),  # rollback | promote
    Column("state", String(10), nullable=False),  # pending | running | done | refused | failed
    Column("reason", Text, nullable=False, default=""),
    Column("requested_by", String(200)),
    Column("received_by", String(100)),  # the instance that recorded it
    Column("handled_by", String(100)),  # the instance that carried it out
    Column("error", String(50)),  # the refusal's code (rollback_refused, promote_refused, ...)
    Column("detail", Text, nullable=False, default=""),
    Column("rollback_id", String(36)),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("finished_at", TS),
    Index("ix_operator_requests_state", "state"),
    Index("ix_operator_requests_deployment", "deployment_id"),
)

# An operator's verdict on a rollback after the fact: "it was unneeded" is the false-rollback signal.
rollback_reviews = Table(
    "rollback_reviews",
    metadata,
    Column("deployment_id", String(36), ForeignKey("deployments.id"), primary_key=True),
    Column("unneeded", Boolean, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("reviewed_by", String(200)),
    Column("reviewed_at", TS, nullable=False),
)

# The outbox: what a verdict obliges (mark stable or bad, the rollback, the target call, the report, each
# notification), written in the verdict's own transaction and carried out by a worker that marks each done.
pending_actions = Table(
    "pending_actions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("deployment_id", String(36), ForeignKey("deployments.id"), nullable=False),
    Column("verification_id", String(36)),
    Column("kind", String(30), nullable=False),  # mark_stable | mark_bad | rollback | target_call | ...
    Column("payload", JSON, nullable=False),
    Column("state", String(10), nullable=False),  # pending | done | gave_up
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("not_before", TS),  # a retry waits until then
    Column("claimed_by", String(100)),  # the instance carrying it out; lapses like a lease
    Column("claimed_until", TS),
    Column("created_at", TS, nullable=False),
    Column("done_at", TS),
    Index("ix_pending_actions_state", "state", "not_before"),
    Index("ix_pending_actions_deployment", "deployment_id"),
)
