"""Alembic environment of the example: its own tables and its own version table, so that
it can share a database with Quorum (whose migrations keep ``alembic_version``) or not."""

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from examples.store_orders.models import metadata

VERSION_TABLE = "store_orders_alembic_version"


def only_ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate looks at the example's tables only, never at Quorum's beside them."""
    return type_ != "table" or name in metadata.tables


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=only_ours,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_async_engine(
        context.config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


asyncio.run(main())
