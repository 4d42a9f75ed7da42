"""A decision has an end, edits, lists: event deadline, outcome, deletion; edited and
deleted marks on proposals and comments; WITHDRAWN proposals; indexes for the sorts.

Revision ID: b7e2c4d1a9f3
Revises: 6c086a0c1967
Create Date: 2026-11-29 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quorum.db.base

revision: str = "b7e2c4d1a9f3"
down_revision: str | None = "6c086a0c1967"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "'PENDING', 'ACCEPTED', 'REJECTED', 'DELETED'"


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, quorum.db.base.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(_at("closes_at"))
        batch_op.add_column(_at("closed_at"))
        batch_op.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "allow_edits_with_votes", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(_at("deleted_at"))
        batch_op.create_index("ix_events_status_closes_at", ["status", "closes_at"], unique=False)
    # Events closed before this migration: their closing time is unknown, the latest is not.
    op.execute("UPDATE events SET closed_at = created_at WHERE status = 'CLOSED'")

    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.add_column(_at("edited_at"))
        batch_op.drop_constraint(op.f("ck_proposals_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN ({_STATUSES}, 'WITHDRAWN')")
        batch_op.create_index(
            "ix_proposals_event_id_vote_count_id", ["event_id", "vote_count", "id"], unique=False
        )
        batch_op.create_index(
            "ix_proposals_event_id_decided_at_id", ["event_id", "decided_at", "id"], unique=False
        )

    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(_at("edited_at"))
        batch_op.add_column(_at("deleted_at"))


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("edited_at")

    # A withdrawn proposal becomes the nearest older status: deleted by its author.
    op.execute("UPDATE proposals SET status = 'DELETED' WHERE status = 'WITHDRAWN'")
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_event_id_decided_at_id")
        batch_op.drop_index("ix_proposals_event_id_vote_count_id")
        batch_op.drop_constraint(op.f("ck_proposals_status"), type_="check")
        batch_op.create_check_constraint("status", f"status IN ({_STATUSES})")
        batch_op.drop_column("edited_at")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_status_closes_at")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("allow_edits_with_votes")
        batch_op.drop_column("outcome")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closes_at")
