"""Lists: an index on memberships (event_id, status, id), for the members list (approved,
oldest first), the memberships list by status, and their totals (an index-only count).

Revision ID: 5d2a7c9e4b18
Revises: 8d3e6f1a2b4c
Create Date: 2026-11-29 21:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5d2a7c9e4b18"
down_revision: str | None = "8d3e6f1a2b4c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memberships_event_id_status_id", ["event_id", "status", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_event_id_status_id")
