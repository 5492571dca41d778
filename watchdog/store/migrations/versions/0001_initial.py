"""Initial schema: every table of watchdog/store/schema.py with its indexes and constraints.

The first revision: every later one builds on it, additively.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("source", "delivery_id", name="uq_deliveries_source_delivery"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("artifact", sa.String(length=1000), nullable=False),
        sa.Column("previous_version", sa.String(length=200), nullable=True),
        sa.Column("previous_artifact", sa.String(length=1000), nullable=True),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deployer", sa.String(length=200), nullable=True),
        sa.Column("commit", sa.String(length=100), nullable=True),
        sa.Column("changelog_url", sa.Text(), nullable=True),
        sa.Column("rollback_safe", sa.Boolean(), nullable=False),
        sa.Column("is_rollback", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("rollback_of", sa.String(length=36), nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_index(
        "ix_deployments_service_env_received",
        "deployments",
        ["service", "environment", "received_at"],
        unique=False,
    )
    op.create_table(
        "freezes",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("service", "environment", name=op.f("pk_freezes")),
    )
    op.create_table(
        "stable_artifacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("artifact", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stable_artifacts")),
        sa.UniqueConstraint(
            "service", "environment", "artifact", name="uq_stable_artifacts_service_env_artifact"
        ),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_incidents_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("deployment_id", name=op.f("uq_incidents_deployment_id")),
    )
    op.create_table(
        "rollbacks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("from_version", sa.String(length=200), nullable=False),
        sa.Column("from_artifact", sa.String(length=1000), nullable=False),
        sa.Column("to_version", sa.String(length=200), nullable=True),
        sa.Column("to_artifact", sa.String(length=1000), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("verification_id", sa.String(length=36), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_rollbacks_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollbacks")),
    )
    op.create_index("ix_rollbacks_deployment", "rollbacks", ["deployment_id"], unique=False)
    op.create_index(
        "ix_rollbacks_service_env_time", "rollbacks", ["service", "environment", "requested_at"], unique=False
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=True),
        sa.Column("decided_after_s", sa.Float(), nullable=True),
        sa.Column("failed_checks", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("artifact", sa.String(length=1000), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("samples_total", sa.Integer(), nullable=False),
        sa.Column("next_k", sa.Integer(), nullable=False),
        sa.Column("next_sample_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("baseline", sa.JSON(), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"], ["deployments.id"], name=op.f("fk_verifications_deployment_id_deployments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index("ix_verifications_deployment", "verifications", ["deployment_id"], unique=False)
    op.create_index("ix_verifications_due", "verifications", ["next_sample_at"], unique=False)
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verification_id", sa.String(length=36), nullable=False),
        sa.Column("check_name", sa.String(length=100), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=True),
        sa.Column("warmup", sa.Boolean(), nullable=False),
        sa.Column("measurement", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["verification_id"], ["verifications.id"], name=op.f("fk_samples_verification_id_verifications")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("verification_id", "check_name", "k", name="uq_samples_verification_check_k"),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("verification_id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["verification_id"],
            ["verifications.id"],
            name=op.f("fk_transitions_verification_id_verifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transitions")),
    )
    op.create_index("ix_transitions_deployment", "transitions", ["deployment_id"], unique=False)


def downgrade() -> None:
    # Dependents first, so foreign keys never point at a dropped table.
    op.drop_index("ix_transitions_deployment", table_name="transitions")
    op.drop_table("transitions")
    op.drop_table("samples")
    op.drop_index("ix_verifications_due", table_name="verifications")
    op.drop_index("ix_verifications_deployment", table_name="verifications")
    op.drop_table("verifications")
    op.drop_index("ix_rollbacks_service_env_time", table_name="rollbacks")
    op.drop_index("ix_rollbacks_deployment", table_name="rollbacks")
    op.drop_table("rollbacks")
    op.drop_table("incidents")
    op.drop_table("stable_artifacts")
    op.drop_table("freezes")
    op.drop_index("ix_deployments_service_env_received", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("deliveries")
