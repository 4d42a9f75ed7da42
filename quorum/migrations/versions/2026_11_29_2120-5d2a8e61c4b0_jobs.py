"""Background jobs: one row per job, written in the transaction that asks for it.

Revision ID: 5d2a8e61c4b0
Revises: 5d2a7c9e4b18
Create Date: 2026-11-29 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quorum.db.base

revision: str = "5d2a8e61c4b0"
down_revision: str | None = "5d2a7c9e4b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", quorum.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", quorum.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", quorum.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", quorum.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", quorum.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_state")
        ),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name=op.f("ck_jobs_percent")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_jobs_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_jobs_requested_by_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_event_id"), "jobs", ["event_id"], unique=False)
    op.create_index("ix_jobs_state_sent_at", "jobs", ["state", "sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_state_sent_at", table_name="jobs")
    op.drop_index(op.f("ix_jobs_event_id"), table_name="jobs")
    op.drop_table("jobs")
