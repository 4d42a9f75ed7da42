"""Declarative base shared by every feature's tables.

Constraint names follow one convention so that Alembic migrations name them the same
way on SQLite and PostgreSQL, and a downgrade can drop them by name.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import uuid_utils.compat
from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite keeps no offset, so values come back naive; they were written as UTC, and
    this type says so again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


def utcnow() -> datetime:
    return datetime.now(UTC)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7), as the standard library's ``uuid.UUID``.

    Ids that sort by creation time let every list paginate on the primary key alone:
    the cursor is the last id, and the index is the one the table already has. Python
    3.14 has ``uuid.uuid7``; until then uuid-utils (its ``compat`` module returns the
    standard type) generates them (in increasing order within a process, as
    its test in tests/unit shows).
    """
    return uuid_utils.compat.uuid7()
