"""Cursor pagination: an opaque cursor, a capped limit, one ``Page`` schema.

Most lists are ordered by a time-ordered UUID primary key, so the cursor is the last
id of the page, base64url-encoded. Keyset pagination stays fast at any depth and
never skips or repeats a row when rows are inserted between two pages. A list with
several orders (``sort=``) has cursors that name their order and hold the last row's
(key, id) (``encode_sorted_cursor``); one used with another order is 422
``cursor_sort_mismatch``, not a page of something else. The query side (where a page
starts, whether another follows, the total) is quorum/db/repository.py; this module
turns the cursor into ``PageParams`` and a page of rows into a ``Page``.
"""

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from quorum.db.repository import PageParams, Position, Rows
from quorum.errors import InvalidInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    total: int | None = Field(
        None,
        description="how many items the whole list holds with these filters: an exact "
        "count, read with the page (null where a list does not count)",
    )


def _invalid() -> InvalidInput:
    return InvalidInput("invalid_cursor", "The cursor is not one this API issued.")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None


def encode_cursor(last_id: uuid.UUID) -> str:
    return _b64(last_id.bytes)


def decode_cursor(cursor: str) -> uuid.UUID:
    raw = _unb64(cursor)
    if len(raw) != 16:
        raise _invalid()
    return uuid.UUID(bytes=raw)


# -- cursors of lists with several orders -------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SortKey = int | datetime  # what a sort key can be: a count, a time (to the microsecond)


def _key_text(key: SortKey) -> str:
    if isinstance(key, datetime):
        return f"t{(key - _EPOCH) // timedelta(microseconds=1)}"
    return f"i{key}"


INT_KEY_MAX = 2**31 - 1  # count keys are INTEGER columns: a larger one is no cursor of ours


def _key_value(text: str) -> SortKey:
    number = int(text[1:])  # ValueError: not ours
    if text[0] == "t":
        return _EPOCH + timedelta(microseconds=number)  # OverflowError: not ours
    if text[0] == "i" and -INT_KEY_MAX <= number <= INT_KEY_MAX:
        return number
    raise ValueError(text)


def encode_sorted_cursor(sort: str, position: Position) -> str:
    """``<sort>~<key>~<id>``, base64url: the order it belongs to and the last row's
    (key, id); ``key`` is ``i<int>`` or ``t<microseconds since the epoch, UTC>``. An
    order by id alone (no key) keeps the plain id cursor of every other list."""
    key, last_id = position
    if key is None:
        return encode_cursor(last_id)
    return _b64(f"{sort}~{_key_text(key)}~{last_id.hex}".encode())


def decode_sorted_cursor(cursor: str, sort: str, key_type: type[SortKey] | None) -> Position:
    """The position ``cursor`` holds, if it is a cursor of this ``sort`` (``key_type``:
    its key's type; None, ordered by id alone): 422 ``invalid_cursor`` if it is no cursor
    of ours, ``cursor_sort_mismatch`` if it is one of another order."""
    raw = _unb64(cursor)
    if len(raw) == 16:  # a plain id: the cursor of an order by id alone
        if key_type is not None:
            raise _mismatch(sort)
        return None, uuid.UUID(bytes=raw)
    try:
        named, key_text, id_hex = raw.decode("ascii").split("~")
        key, last_id = _key_value(key_text), uuid.UUID(hex=id_hex)
    except (UnicodeDecodeError, ValueError, IndexError, OverflowError):
        raise _invalid() from None
    if named != sort:
        raise _mismatch(sort)
    if key_type is None or not isinstance(key, key_type):
        raise _invalid()
    return key, last_id


def _mismatch(sort: str) -> InvalidInput:
    return InvalidInput(
        "cursor_sort_mismatch",
        f"This cursor belongs to another order of the list, not sort={sort}: "
        "ask for the first page again.",
    )


@dataclass(frozen=True)
class CursorPage:
    """A page request of a list with several orders: its cursor, read once the order is
    known (``decode_sorted_cursor``), and its size."""

    cursor: str | None
    limit: int


async def cursor_page(
    cursor: Annotated[str | None, Query(max_length=160)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> CursorPage:
    return CursorPage(cursor, limit)


async def page_params(
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    """``async`` for the reason quorum/api/deps.py gives: no worker thread per request."""
    return PageParams(after=decode_cursor(cursor) if cursor else None, limit=limit)


def page(rows: Rows[R, uuid.UUID], item: Callable[[R], T]) -> Page[T]:
    """The ``Page`` of ``rows``, each made into its response schema by ``item``."""
    after = rows.next_after
    return Page[T](
        items=[item(row) for row in rows.items],
        next_cursor=encode_cursor(after) if after is not None else None,
        total=rows.total,
    )


def sorted_page(rows: Rows[R, Position], sort: str, item: Callable[[R], T]) -> Page[T]:
    """The ``Page`` of rows of a list sorted by ``sort``; its cursor names the sort."""
    after = rows.next_after
    return Page[T](
        items=[item(row) for row in rows.items],
        next_cursor=encode_sorted_cursor(sort, after) if after is not None else None,
        total=rows.total,
    )
