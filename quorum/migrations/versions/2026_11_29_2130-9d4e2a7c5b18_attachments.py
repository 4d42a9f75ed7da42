"""Attachments: files on proposals, their bytes in the blob store.

Revision ID: 9d4e2a7c5b18
Revises: 5d2a8e61c4b0
Create Date: 2026-11-29 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quorum.db.base

revision: str = "9d4e2a7c5b18"
down_revision: str | None = "5d2a8e61c4b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", quorum.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size >= 0", name=op.f("ck_attachments_size")),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_attachments_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_attachments_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_attachments_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_author_id"), "attachments", ["author_id"])
    op.create_index("ix_attachments_event_id", "attachments", ["event_id"])
    op.create_index("ix_attachments_proposal_id_id", "attachments", ["proposal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_attachments_proposal_id_id", table_name="attachments")
    op.drop_index("ix_attachments_event_id", table_name="attachments")
    op.drop_index(op.f("ix_attachments_author_id"), table_name="attachments")
    op.drop_table("attachments")
