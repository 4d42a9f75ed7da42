"""INSERT ... ON CONFLICT DO NOTHING on both backends."""

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.base import Base


async def insert_unless_exists(session: AsyncSession, model: type[Base], **values: Any) -> bool:
    """True if inserted, False if a UNIQUE key already held such a row.

    Concurrent duplicates wait on the key and then skip: no exception, no savepoint,
    one round trip; the constraint, not a prior SELECT, decides.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    primary_key = model.__mapper__.primary_key[0]
    stmt = insert(model).values(**values).on_conflict_do_nothing().returning(primary_key)
    return (await session.scalar(stmt)) is not None
