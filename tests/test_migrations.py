"""The migrations are the schema: on a fresh database ``upgrade head`` builds exactly what
the models declare, ``downgrade base`` removes all of it, and ``upgrade head`` works
again. Each backend gets a database of its own, since the test tears it down.

The fresh database is migrated by ``quorum migrate`` (the package's own configuration,
tests/services.py); the rest goes through ``alembic`` and the repository's alembic.ini, the
developers' way. Both must find the same migrations."""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quorum import migrate
from quorum.db.models import compared, metadata
from quorum.decisions import search
from tests.services import ROOT, Backend, create_backend, drop_backend

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    created = create_backend(request.param, tmp_path)  # and migrated to head
    yield created
    drop_backend(created)


def schema_diff(connection: Connection) -> list[Any]:
    """What autogenerate would write: the options are those of quorum/migrations/env.py."""
    opts = {"compare_type": True, "include_name": compared}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def model_tables(connection: Connection) -> set[str]:
    """The tables but the trigram search's (quorum/decisions/search.py): no model has them."""
    return {name for name in tables(connection) if not search.is_search_object(name)}


def search_objects(connection: Connection) -> set[str]:
    """The trigram search's objects that exist: tables, triggers, indexes."""
    if connection.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'proposals'"
    else:
        query = "SELECT name FROM sqlite_master WHERE name LIKE 'proposal_search%'"
    names = set(connection.exec_driver_sql(query).scalars())
    return {name for name in names if name.startswith(("proposal_search", search.PG_TITLE_INDEX))}


def expected_search_objects(dialect: str) -> set[str]:
    if dialect == "postgresql":
        return {search.PG_TITLE_INDEX}
    shadows = {f"{search.SQLITE_FTS}_{s}" for s in ("data", "idx", "content", "docsize", "config")}
    return {search.SQLITE_KEYS, search.SQLITE_FTS, *shadows, *search.SQLITE_TRIGGERS}


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
    search_at_head = expected_search_objects(fresh.name)
    assert await inspect_db(fresh, schema_diff) == []
    assert await inspect_db(fresh, model_tables) == all_tables
    # Not compared with the models, so checked by name: a later migration that rebuilt
    # ``proposals`` on SQLite (batch mode) would have dropped the triggers.
    assert await inspect_db(fresh, search_objects) == search_at_head

    alembic(fresh, "downgrade", "base")
    assert await inspect_db(fresh, tables) <= {"alembic_version"}
    assert await inspect_db(fresh, search_objects) == set()

    alembic(fresh, "upgrade", "head")
    assert await inspect_db(fresh, schema_diff) == []
    assert await inspect_db(fresh, model_tables) == all_tables
    assert await inspect_db(fresh, search_objects) == search_at_head
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


# -- data migrations --------------------------------------------------------------------

PEOPLE_REVISION = "b7e2c4d91a05"  # decided_by becomes decided_by_id + decided_automatically


def _seed_decisions(connection: Connection) -> dict[str, uuid.UUID]:
    """Rows as the revision before ``PEOPLE_REVISION`` stored them: ``decided_by`` is
    "auto", a user id as text, or null."""
    now = datetime.now(UTC)
    user, event = uuid.uuid4(), uuid.uuid4()
    ids = {"auto": uuid.uuid4(), "user": uuid.uuid4(), "none": uuid.uuid4(), "decider": user}
    users = sa.table(*_cols("users", id=sa.Uuid, email=sa.String, display_name=sa.String))
    connection.execute(
        users.insert().values(
            id=user, email="a@example.com", display_name="A", password_hash="x", created_at=now
        )
    )
    connection.execute(
        sa.table(*_cols("events", id=sa.Uuid, organizer_id=sa.Uuid))
        .insert()
        .values(
            id=event,
            title="t",
            description="",
            organizer_id=user,
            status="OPEN",
            last_seq=0,
            created_at=now,
        )
    )
    proposals = sa.table(*_cols("proposals", id=sa.Uuid, event_id=sa.Uuid, author_id=sa.Uuid))
    for key, decided_by in (("auto", "auto"), ("user", str(user)), ("none", None)):
        connection.execute(
            proposals.insert().values(
                id=ids[key],
                event_id=event,
                kind="CONCLUSION",
                title="p",
                body="",
                author_id=user,
                status="PENDING" if decided_by is None else "ACCEPTED",
                vote_count=0,
                decided_by=decided_by,
                created_at=now,
            )
        )
    return ids


def _cols(table: str, **typed: Any) -> tuple[Any, ...]:
    """``sa.table`` arguments: the typed columns (a UUID's stored form differs by backend),
    and the rest untyped, as they are named."""
    untyped = {
        "users": ("password_hash", "created_at"),
        "events": ("title", "description", "status", "last_seq", "created_at"),
        "proposals": (
            "kind", "title", "body", "status", "vote_count", "decided_by", "created_at",
        ),
    }[table]  # fmt: skip
    return (table, *(sa.column(n, t) for n, t in typed.items()), *map(sa.column, untyped))


def _decided(connection: Connection) -> dict[uuid.UUID, tuple[Any, ...]]:
    proposals = sa.table(
        "proposals",
        sa.column("id", sa.Uuid),
        sa.column("decided_by_id", sa.Uuid),
        sa.column("decided_automatically", sa.Boolean),
    )
    rows = connection.execute(sa.select(proposals)).all()
    return {row[0]: (row[1], bool(row[2])) for row in rows}


def _decided_before(connection: Connection) -> dict[uuid.UUID, Any]:
    proposals = sa.table("proposals", sa.column("id", sa.Uuid), sa.column("decided_by"))
    return {row[0]: row[1] for row in connection.execute(sa.select(proposals)).all()}


async def test_decided_by_is_converted_both_ways(fresh: Backend) -> None:
    alembic(fresh, "downgrade", f"{PEOPLE_REVISION}-1")
    ids = await _write(fresh, _seed_decisions)

    alembic(fresh, "upgrade", PEOPLE_REVISION)
    assert await inspect_db(fresh, _decided) == {
        ids["auto"]: (None, True),
        ids["user"]: (ids["decider"], False),
        ids["none"]: (None, False),
    }

    alembic(fresh, "downgrade", f"{PEOPLE_REVISION}-1")
    assert await inspect_db(fresh, _decided_before) == {
        ids["auto"]: "auto",
        ids["user"]: str(ids["decider"]),
        ids["none"]: None,
    }
    alembic(fresh, "upgrade", "head")


async def _write(backend: Backend, fn: Callable[[Connection], T]) -> T:
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


SEARCH_REVISION = "8d3e6f1a2b4c"  # proposal_search: the trigram index of proposal titles


def _seed_titles(connection: Connection) -> dict[str, uuid.UUID]:
    """Proposals written before the search index existed."""
    now = datetime.now(UTC)
    user, event = uuid.uuid4(), uuid.uuid4()
    connection.execute(
        sa.table(*_cols("users", id=sa.Uuid, email=sa.String, display_name=sa.String))
        .insert()
        .values(id=user, email="b@example.com", display_name="B", password_hash="x", created_at=now)
    )
    connection.execute(
        sa.table(*_cols("events", id=sa.Uuid, organizer_id=sa.Uuid))
        .insert()
        .values(
            id=event,
            title="t",
            description="",
            organizer_id=user,
            status="OPEN",
            last_seq=0,
            created_at=now,
        )  # fmt: skip
    )
    proposals = sa.table(
        "proposals", *(sa.column(n, sa.Uuid) for n in ("id", "event_id", "author_id")),
        *map(sa.column, ("kind", "title", "body", "status", "vote_count", "created_at")),
    )  # fmt: skip
    ids = {title: uuid.uuid4() for title in ("예산 증액 요청", "Move the meeting")}
    for title, proposal_id in ids.items():
        connection.execute(
            proposals.insert().values(
                id=proposal_id,
                event_id=event,
                author_id=user,
                kind="CONCLUSION",
                title=title,
                body="",
                status="PENDING",
                vote_count=0,
                created_at=now,
            )  # fmt: skip
        )
    return ids


def _found_by_fts(connection: Connection, words: str) -> set[uuid.UUID]:
    query = (
        sa.select(search.keys.c.proposal_id)
        .join(search.fts, search.fts.c.rowid == search.keys.c.id)
        .where(search.fts.c.words.match(words))
    )
    return set(connection.execute(query).scalars())


async def test_the_search_index_takes_in_the_proposals_already_there(fresh: Backend) -> None:
    """SQLite's FTS5 table is filled from the existing titles (PostgreSQL's index builds
    itself)."""
    if fresh.name != "sqlite":
        pytest.skip("an FTS5 table of SQLite's")
    alembic(fresh, "downgrade", f"{SEARCH_REVISION}-1")
    ids = await _write(fresh, _seed_titles)
    alembic(fresh, "upgrade", SEARCH_REVISION)

    def found(words: str) -> Callable[[Connection], set[uuid.UUID]]:
        return lambda connection: _found_by_fts(connection, words)

    assert await inspect_db(fresh, found('" 예산"')) == {ids["예산 증액 요청"]}
    assert await inspect_db(fresh, found('"  m"')) == {ids["Move the meeting"]}
    alembic(fresh, "upgrade", "head")


async def test_another_applications_tables_are_not_ours_to_drop(fresh: Backend) -> None:
    """A database shared with another application (examples/store_orders keeps its tables
    beside Quorum's): autogenerate must not propose dropping what Quorum does not own."""

    def add_foreign_table(connection: Connection) -> None:
        connection.exec_driver_sql("CREATE TABLE other_app_orders (id INTEGER PRIMARY KEY)")
        connection.commit()

    await inspect_db(fresh, add_foreign_table)
    assert await inspect_db(fresh, schema_diff) == []
    alembic(fresh, "check")
