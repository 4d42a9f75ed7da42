"""INSERT ... ON CONFLICT DO NOTHING on both backends."""

import functools
from typing import Any, cast

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.base import Base


async def insert_unless_exists(session: AsyncSession, model: type[Base], **values: Any) -> bool:
    """True if inserted, False if a UNIQUE key already held such a row.

    Concurrent duplicates wait on the key and then skip: no exception, no savepoint,
    one round trip; the constraint, not a prior SELECT, decides.
    """
    connection = await session.connection()
    statement = _insert_or_skip(connection.dialect.name, model, tuple(sorted(values)))
    return (await connection.execute(statement, values)).first() is not None


@functools.cache
def _insert_or_skip(dialect: str, model: type[Base], columns: tuple[str, ...]) -> Any:
    """Built once per table and column set: votes are inserted on the hottest path."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    statement = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    return statement.on_conflict_do_nothing().returning(*table.primary_key)
