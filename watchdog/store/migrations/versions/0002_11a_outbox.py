"""The outbox of pending actions beside each verdict (mark stable/bad, rollback, target call, notifications).

A rollback intent an older daemon left unfinished is adopted as a pending target call.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_11a"
down_revision: str | None = "0002_16"


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("deployment_id", sa.String(length=36), nullable=False),
        sa.Column("verification_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_pending_actions_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_actions")),
    )
    op.create_index("ix_pending_actions_state", "pending_actions", ["state", "not_before"], unique=False)
    op.create_index("ix_pending_actions_deployment", "pending_actions", ["deployment_id"], unique=False)
    _adopt_open_intents()


def _adopt_open_intents() -> None:
    """A rollback intent an older daemon left unfinished becomes a pending target call; counted as one
    attempt, so the worker asks what runs before it calls the target."""
    conn = op.get_bind()
    found = conn.execute(sa.text("SELECT id, deployment_id FROM rollbacks WHERE state = 'intent'")).fetchall()
    if not found:
        return
    actions = sa.table(
        "pending_actions",
        sa.column("id", sa.String),
        sa.column("deployment_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("payload", sa.JSON),
        sa.column("state", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        actions,
        [
            {
                "id": f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}",
                "deployment_id": deployment_id,
                "kind": "target_call",
                "payload": {"rollback_id": rollback_id},
                "state": "pending",
                "attempts": 1,
                "created_at": now,
            }
            for rollback_id, deployment_id in found
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_pending_actions_deployment", table_name="pending_actions")
    op.drop_index("ix_pending_actions_state", table_name="pending_actions")
    op.drop_table("pending_actions")
