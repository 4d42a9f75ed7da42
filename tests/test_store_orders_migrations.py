"""The store-orders example's migrations: they build exactly its models' schema beside
Quorum's, keep their own version table, and take down only what they built."""

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from examples.store_orders.migrate import VERSION_TABLE, config, only_ours
from examples.store_orders.models import metadata
from tests.services import Backend, create_backend, drop_backend
from tests.store_orders import migrate

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = create_backend(request.param, tmp_path)  # Quorum's schema, at head
    migrate(backend)  # and the example's beside it
    yield backend
    drop_backend(backend)


def inspect_db(backend: Backend, fn: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_async_engine(backend.url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def schema_diff(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_name": only_ours}
    return list(compare_metadata(MigrationContext.configure(connection, opts=opts), metadata))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def test_the_migrations_build_the_models_and_take_down_only_theirs(shared: Backend) -> None:
    assert inspect_db(shared, schema_diff) == []
    before = inspect_db(shared, tables)
    assert {"alembic_version", VERSION_TABLE, "event_log", *metadata.tables} <= before
    command.downgrade(config(shared.url), "base")
    assert inspect_db(shared, tables) == before - set(metadata.tables)  # Quorum's untouched
