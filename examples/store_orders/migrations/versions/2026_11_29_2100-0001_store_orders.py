"""Stores, tables, table sessions, orders and the stores' event log.

Revision ID: 0001_store_orders
Revises:
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_store_orders"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("admin_token_sha256", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_store_stores"),
        sa.UniqueConstraint("admin_token_sha256", name="uq_store_stores_admin_token_sha256"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "store_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store_stores.id"], name="fk_store_tables_store_id_store_stores"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_store_tables"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_store_tables_store_id", "store_tables", ["store_id"])
    op.create_table(
        "store_table_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["table_id"], ["store_tables.id"], name="fk_store_table_sessions_table_id_store_tables"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_store_table_sessions"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_store_table_sessions_table_id", "store_table_sessions", ["table_id"])
    op.create_table(
        "store_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store_stores.id"], name="fk_store_orders_store_id_store_stores"
        ),
        sa.ForeignKeyConstraint(
            ["table_id"], ["store_tables.id"], name="fk_store_orders_table_id_store_tables"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["store_table_sessions.id"],
            name="fk_store_orders_session_id_store_table_sessions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_store_orders"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_store_orders_store_id", "store_orders", ["store_id"])
    op.create_index("ix_store_orders_session_id", "store_orders", ["session_id"])
    op.create_table(
        "store_order_log",
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic_id", "seq", name="pk_store_order_log"),
    )


def downgrade() -> None:
    op.drop_table("store_order_log")
    op.drop_index("ix_store_orders_session_id", "store_orders")
    op.drop_index("ix_store_orders_store_id", "store_orders")
    op.drop_table("store_orders")
    op.drop_index("ix_store_table_sessions_table_id", "store_table_sessions")
    op.drop_table("store_table_sessions")
    op.drop_index("ix_store_tables_store_id", "store_tables")
    op.drop_table("store_tables")
    op.drop_table("store_stores")
