"""quorum_batch(size): the row numbers 1..size of a batch of writes (PostgreSQL only).

The votes (and the comments) that reach one event together are written by one
statement (quorum/decisions/batched.py), whose rows come from arrays, one per column,
read at these numbers. ``generate_series`` (or ``unnest``) would do, but the planner
sizes them exactly for a known argument and at 1,000 (or 10) rows for a parameter: a
custom plan then always looks cheaper than the generic one, so PostgreSQL planned the
statement again on every execution (about 2 ms of CPU each, more than the writes cost).
This function has one size for every call (``ROWS 4``); its SET clause keeps it from
being inlined, which would bring ``generate_series``'s estimate back.

Revision ID: 8a2d5c1e9f30
Revises: 6c1e8f2a4b07
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "8a2d5c1e9f30"
down_revision: str | None = "6c1e8f2a4b07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION quorum_batch(size integer) RETURNS TABLE (n integer)
        LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 4 SET search_path = pg_catalog
        AS $$ SELECT * FROM generate_series(1, size) $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION quorum_batch(integer)")
