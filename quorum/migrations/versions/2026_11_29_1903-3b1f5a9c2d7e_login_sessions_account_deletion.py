"""Login sessions (an access token is valid while its session row lives) and deleted accounts.

Tokens issued before this revision carry no session id: they are refused from now on,
and their holders log in again.

Revision ID: 3b1f5a9c2d7e
Revises: 4ef5f7d6ccfd
Create Date: 2026-11-29 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import quorum.db.base

revision: str = "3b1f5a9c2d7e"
down_revision: str | None = "4ef5f7d6ccfd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", quorum.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", quorum.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_user_id"), "sessions", ["user_id"], unique=False)
    op.create_index(op.f("ix_sessions_expires_at"), "sessions", ["expires_at"], unique=False)
    # A nullable column: a plain ALTER TABLE ADD COLUMN on both backends, no table rebuild.
    op.add_column(
        "users",
        sa.Column("deleted_at", quorum.db.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    op.drop_index(op.f("ix_sessions_expires_at"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_user_id"), table_name="sessions")
    op.drop_table("sessions")
