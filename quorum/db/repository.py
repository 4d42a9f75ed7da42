"""The small repository base every feature's repository builds on: one way to read a row
(and lock it), one way to read a page.

Locking is a keyword of the read, ``for_update=True`` (or ``for_share=True``), never a
separate function: the lock is taken by the statement that reads the row, and the row is
read again even if the session already holds it, so the values seen are the ones the
lock protects. SQLite has no row locks; its writers are serialised by BEGIN IMMEDIATE
(quorum/db/engine.py).

Pages are keyset pages: rows ordered by a key that only grows (a time-ordered UUID, a
log ``seq``), continued after the last key seen. ``fetch_page`` owns the one trick of
it, both halves: it asks for one row more than the page holds, and that row only says
whether a next page exists.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.base import ExecutableOption

from quorum.db.base import Base

M = TypeVar("M", bound=Base)
T = TypeVar("T")
K = TypeVar("K")


async def get(
    session: AsyncSession,
    model: type[M],
    *where: ColumnElement[bool],
    for_update: bool = False,
    for_share: bool = False,
    options: Sequence[ExecutableOption] = (),
) -> M | None:
    """The one row of ``model`` matching ``where``, if any. ``for_update`` before
    changing it or deciding on it; ``for_share`` to keep it from changing while something
    is attached to it. Both hold until commit (PostgreSQL). ``options``: loader options
    (``selectinload`` of the related rows a response needs)."""
    query = select(model).where(*where).options(*options)
    if for_update or for_share:
        query = query.with_for_update(read=not for_update).execution_options(populate_existing=True)
    return await session.scalar(query)


@dataclass(frozen=True)
class PageParams:
    """Where a page of a UUID-keyed list starts (after the key ``after``) and its size."""

    after: uuid.UUID | None
    limit: int


@dataclass(frozen=True)
class Rows(Generic[T, K]):
    """One page: its rows, and the key to continue after (None: this is the last page)."""

    items: list[T]
    next_after: K | None


async def fetch_page(
    fetch: Callable[[int], Awaitable[Sequence[T]]], limit: int, key: Callable[[T], K]
) -> Rows[T, K]:
    """``fetch(n)`` reads at most ``n`` rows in key order, after the previous page."""
    rows = await fetch(limit + 1)
    items = list(rows[:limit])
    return Rows(items, key(items[-1]) if len(rows) > limit else None)


async def paginate(
    session: AsyncSession,
    query: Select[M],
    key: InstrumentedAttribute[uuid.UUID],
    params: PageParams,
    *,
    newest_first: bool = False,
) -> Rows[M, uuid.UUID]:
    """A page of ``query``'s rows ordered by ``key`` (a UUID7 primary key: creation
    order), oldest or newest first."""
    if params.after is not None:
        query = query.where(key < params.after if newest_first else key > params.after)
    query = query.order_by(key.desc() if newest_first else key.asc())

    async def fetch(n: int) -> Sequence[M]:
        return (await session.scalars(query.limit(n))).all()

    def key_of(row: M) -> uuid.UUID:
        value: uuid.UUID = getattr(row, key.key)
        return value

    return await fetch_page(fetch, params.limit, key_of)
