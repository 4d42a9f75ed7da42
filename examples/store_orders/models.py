"""The example's tables, in its own metadata (and its own migrations): stores, their
tables, table sessions, orders, and the store's event log.

A store is the topic of its admin stream: ``stores.last_seq`` numbers the store's log
entries (``Counter``), so writes to one store are serialised and its log has no gap.
"""

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)

from quorum.db.base import NAMING_CONVENTION
from quorum.realtime import Counter, log_table

metadata = MetaData(naming_convention=NAMING_CONVENTION)

stores = Table(
    "store_stores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("admin_token_sha256", String(64), nullable=False, unique=True),
    Column("last_seq", Integer, nullable=False, default=0),
    sqlite_autoincrement=True,  # SQLite would reuse the highest id once deleted
)

dining_tables = Table(
    "store_tables",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("store_stores.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    sqlite_autoincrement=True,
)

table_sessions = Table(
    "store_table_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("table_id", ForeignKey("store_tables.id"), nullable=False, index=True),
    Column("ended_at", DateTime(timezone=True)),
    sqlite_autoincrement=True,
)

orders = Table(
    "store_orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", ForeignKey("store_stores.id"), nullable=False, index=True),
    Column("table_id", ForeignKey("store_tables.id"), nullable=False),
    Column("session_id", ForeignKey("store_table_sessions.id"), nullable=False, index=True),
    Column("items", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    sqlite_autoincrement=True,  # an order deleted last must not hand its id to the next
)

order_log = log_table(metadata, "store_order_log", Integer())
COUNTER = Counter(stores, stores.c.id, stores.c.last_seq, log=order_log)
