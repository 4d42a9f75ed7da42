"""Drop ix_proposals_event_id_vote_count_id: a vote's proposal UPDATE stays HOT.

``vote_count`` in an index made every vote's UPDATE of ``proposals`` a non-HOT update,
a new entry in each of the table's indexes (the trigram GIN index included) per vote;
the vote benchmark (bench/RESULTS.md, 2026-11-30, second run) measured what that cost
on the hot path. ``sort=most_votes`` now sorts one event's proposals instead of reading
them from that index (docs/queries.md).

Revision ID: 6c1e8f2a4b07
Revises: 3f7b1c9d2e64
Create Date: 2026-11-30 04:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6c1e8f2a4b07"
down_revision: str | None = "3f7b1c9d2e64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_proposals_event_id_vote_count_id")


def downgrade() -> None:
    with op.batch_alter_table("proposals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proposals_event_id_vote_count_id", ["event_id", "vote_count", "id"], unique=False
        )
