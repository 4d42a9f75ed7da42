"""The migrations are the schema: on a fresh database ``upgrade head`` builds exactly what
the models declare, ``downgrade base`` removes all of it, and ``upgrade head`` works
again. Each backend gets a database of its own, since the test tears it down.

The fresh database is migrated by ``quorum migrate`` (the package's own configuration,
tests/services.py); the rest goes through ``alembic`` and the repository's alembic.ini, the
developers' way. Both must find the same migrations."""

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quorum import migrate
from quorum.db.models import metadata
from tests.services import ROOT, Backend, create_backend, drop_backend

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    created = create_backend(request.param, tmp_path)  # and migrated to head
    yield created
    drop_backend(created)


def schema_diff(connection: Connection) -> list[Any]:
    """What autogenerate would write: the options are those of quorum/migrations/env.py."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def inspect_db(backend: Backend, fn: Callable[[Connection], T]) -> T:
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def alembic(backend: Backend, *args: str) -> None:
    command = [sys.executable, "-m", "alembic", "-x", f"url={backend.url}", *args]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"alembic {' '.join(args)}:\n{result.stdout}{result.stderr}"


async def test_migrations_build_the_models_schema_and_take_it_down(fresh: Backend) -> None:
    all_tables = {*metadata.tables, "alembic_version"}
    assert await inspect_db(fresh, schema_diff) == []
    assert await inspect_db(fresh, tables) == all_tables

    alembic(fresh, "downgrade", "base")
    assert await inspect_db(fresh, tables) <= {"alembic_version"}

    alembic(fresh, "upgrade", "head")
    assert await inspect_db(fresh, schema_diff) == []
    assert await inspect_db(fresh, tables) == all_tables
    alembic(fresh, "check")  # the same question through quorum/migrations/env.py


def test_the_package_and_alembic_ini_configure_the_same_migrations() -> None:
    from_code = ScriptDirectory.from_config(migrate.config("sqlite+aiosqlite://"))
    from_ini = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    package_dir = ROOT / "quorum" / "migrations"
    assert Path(from_code.dir).resolve() == Path(from_ini.dir).resolve() == package_dir
    assert from_code.file_template == from_ini.file_template
    assert from_code.get_heads() == from_ini.get_heads()
    assert len(from_code.get_heads()) == 1, "several heads: merge them"
    # Every revision file ships in the package directory (hatchling takes the whole of it).
    assert {Path(s.path).parent for s in from_code.walk_revisions()} == {package_dir / "versions"}
