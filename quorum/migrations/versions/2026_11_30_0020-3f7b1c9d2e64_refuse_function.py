"""quorum_refuse(code): raise from inside a statement (PostgreSQL only).

A vote runs as one autocommitted statement (quorum/decisions/at_once.py): when a check
that only its later steps can make fails (the event closed, or the proposal was decided,
after the vote row was written), the statement must fail as a whole, so that nothing it
wrote survives. Plain SQL has no RAISE; this function is one, and nothing else: the
rules stay in the statement, which quorum/decisions/rules.py builds.

Revision ID: 3f7b1c9d2e64
Revises: 9d4e2a7c5b18
Create Date: 2026-11-30 00:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3f7b1c9d2e64"
down_revision: str | None = "9d4e2a7c5b18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION quorum_refuse(code text) RETURNS integer
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'QR001', MESSAGE = code;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION quorum_refuse(text)")
