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
whether a next page exists. A list with other orders (most votes first) sorts by a
``Keyset``: a key that rows may share, then the unique id, continued after the last
(key, id) seen with one row-value comparison, which the index on (..., key, id) serves
as where its scan starts.

A page may carry the list's ``total``: an exact ``COUNT(*)`` of the same filtered rows,
in the same transaction, for the lists whose rows all hang off one indexed parent (an
event, a proposal, a user), where counting reads one index range.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
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
    """One page: its rows, the key to continue after (None: this is the last page) and,
    where the list counts, how many rows the whole filtered list holds."""

    items: list[T]
    next_after: K | None
    total: int | None = None


async def fetch_page(
    fetch: Callable[[int], Awaitable[Sequence[T]]], limit: int, key: Callable[[T], K]
) -> Rows[T, K]:
    """``fetch(n)`` reads at most ``n`` rows in key order, after the previous page."""
    rows = await fetch(limit + 1)
    items = list(rows[:limit])
    return Rows(items, key(items[-1]) if len(rows) > limit else None)


async def count(session: AsyncSession, query: Select[Any]) -> int:
    """How many rows ``query`` (a list's filtered query, before its order and page)
    holds. PostgreSQL flattens the subquery, so it is the list's own WHERE on its index."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return int(total or 0)


Position = tuple[Any, uuid.UUID]
"""Where a sorted list continues: the (key, id) of the last row seen (key None: a list
ordered by id alone)."""


@dataclass(frozen=True)
class Keyset:
    """An order of a list by ``key``, a value rows may share (a count, a time), then by
    the unique ``id``, both in one direction: a total order, so a page continues exactly
    after the last (key, id) seen. ``(key, id) < (:key, :id)`` is a row-value
    comparison, which a B-tree index on (parent, key, id) takes as the start of its
    scan, on PostgreSQL and SQLite alike. No ``key``: by id alone (creation order)."""

    key: InstrumentedAttribute[Any] | None
    id: InstrumentedAttribute[uuid.UUID]
    descending: bool = True

    @property
    def key_type(self) -> type[Any] | None:
        """The Python type of the key's values (None: ordered by id alone)."""
        return None if self.key is None else self.key.type.python_type

    def after(self, position: Position) -> ColumnElement[bool]:
        key, last_id = position
        if self.key is None:
            return self.id < last_id if self.descending else self.id > last_id
        here = tuple_(self.key, self.id)
        seen = tuple_(literal(key, self.key.type), literal(last_id, self.id.type))
        return here < seen if self.descending else here > seen

    def order(self) -> list[ColumnElement[Any]]:
        columns = [self.id] if self.key is None else [self.key, self.id]
        return [c.desc() if self.descending else c.asc() for c in columns]

    def position(self, row: Any) -> Position:
        key = None if self.key is None else getattr(row, self.key.key)
        return key, getattr(row, self.id.key)


async def paginate_sorted(
    session: AsyncSession,
    query: Select[M],
    keyset: Keyset,
    after: Position | None,
    limit: int,
    *,
    total: bool = False,
) -> Rows[M, Position]:
    """A page of ``query``'s rows in ``keyset`` order, after ``after``; with the total
    if asked. Rows whose key is NULL would fall outside every comparison: the caller's
    query leaves them out (or the key is NOT NULL)."""
    counted = await count(session, query) if total else None
    if after is not None:
        query = query.where(keyset.after(after))
    query = query.order_by(*keyset.order())

    async def fetch(n: int) -> Sequence[M]:
        return (await session.scalars(query.limit(n))).all()

    rows = await fetch_page(fetch, limit, keyset.position)
    return Rows(rows.items, rows.next_after, counted)


async def paginate(
    session: AsyncSession,
    query: Select[M],
    key: InstrumentedAttribute[uuid.UUID],
    params: PageParams,
    *,
    newest_first: bool = False,
    total: bool = False,
) -> Rows[M, uuid.UUID]:
    """A page of ``query``'s rows ordered by ``key`` (a UUID7 primary key: creation
    order), oldest or newest first; with the list's ``total`` if asked."""
    keyset = Keyset(None, key, descending=newest_first)
    after = None if params.after is None else (None, params.after)
    rows = await paginate_sorted(session, query, keyset, after, params.limit, total=total)
    last = rows.next_after
    return Rows(rows.items, None if last is None else last[1], rows.total)
