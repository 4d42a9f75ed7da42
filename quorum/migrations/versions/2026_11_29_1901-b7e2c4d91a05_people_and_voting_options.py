"""People and voting options: proposals.decided_by (a user id as text, or "auto") becomes
decided_by_id (a foreign key) and decided_automatically (a boolean); events get
anonymous_votes and hidden_tallies, fixed at creation.

Revision ID: b7e2c4d91a05
Revises: b7e2c4d1a9f3
Create Date: 2026-11-29 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e2c4d91a05"
down_revision: str | None = "b7e2c4d1a9f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The statements below are built from constant fragments only (hence the S608 noqa).


def _uuid_of_text(column: str) -> str:
    """SQL turning a UUID written as text (with dashes) into the column's stored form:
    a native uuid on PostgreSQL, 32 hex digits on SQLite (SQLAlchemy's ``Uuid``)."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST({column} AS uuid)"
    return f"lower(replace({column}, '-', ''))"


def _text_of_uuid(column: str) -> str:
    """The reverse: the stored UUID as text with dashes, as ``str(uuid)`` writes it."""
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST({column} AS text)"
    parts = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
    return " || '-' || ".join(f"substr({column}, {start}, {n})" for start, n in parts)


def upgrade() -> None:
    false = sa.false()
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("anonymous_votes", sa.Boolean(), server_default=false, nullable=False)
        )
        batch.add_column(
            sa.Column("hidden_tallies", sa.Boolean(), server_default=false, nullable=False)
        )
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("decided_by_id", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("decided_automatically", sa.Boolean(), server_default=false, nullable=False)
        )
    op.execute("UPDATE proposals SET decided_automatically = TRUE WHERE decided_by = 'auto'")
    op.execute(
        f"UPDATE proposals SET decided_by_id = {_uuid_of_text('decided_by')} "  # noqa: S608
        "WHERE decided_by IS NOT NULL AND decided_by <> 'auto'"
    )
    with op.batch_alter_table("proposals") as batch:
        batch.drop_column("decided_by")
        batch.create_foreign_key(
            batch.f("fk_proposals_decided_by_id_users"), "users", ["decided_by_id"], ["id"]
        )
        batch.create_check_constraint(
            batch.f("ck_proposals_decided_once"),
            "NOT (decided_automatically AND decided_by_id IS NOT NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("proposals") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(length=36), nullable=True))
    op.execute("UPDATE proposals SET decided_by = 'auto' WHERE decided_automatically")
    op.execute(
        f"UPDATE proposals SET decided_by = {_text_of_uuid('decided_by_id')} "  # noqa: S608
        "WHERE decided_by_id IS NOT NULL"
    )
    with op.batch_alter_table("proposals") as batch:
        batch.drop_constraint(batch.f("ck_proposals_decided_once"), type_="check")
        batch.drop_constraint(batch.f("fk_proposals_decided_by_id_users"), type_="foreignkey")
        batch.drop_column("decided_automatically")
        batch.drop_column("decided_by_id")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("hidden_tallies")
        batch.drop_column("anonymous_votes")
