"""An index on the verifications' state, so intake finds the live verification of a service in flat time.

Revision ID: 0003_17
Revises: 0002_11a
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003_17"
down_revision: str | None = "0002_11a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_verifications_state", "verifications", ["state", "kind"])


def downgrade() -> None:
    op.drop_index("ix_verifications_state", table_name="verifications")
