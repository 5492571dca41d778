"""An index on the verifications' state, so intake finds the live verification of a service in flat time.

An index only: no table or column changes.
"""

from __future__ import annotations


from alembic import op

revision: str = "0003_17"
down_revision: str | None = "0002_11a"


def upgrade() -> None:
    op.create_index("ix_verifications_state", "verifications", ["state", "kind"])


def downgrade() -> None:
    op.drop_index("ix_verifications_state", table_name="verifications")
