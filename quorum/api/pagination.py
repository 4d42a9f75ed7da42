"""Cursor pagination: an opaque cursor, a capped limit, one ``Page`` schema.

Every list is ordered by a time-ordered UUID primary key, so the cursor is the last
id of the page, base64url-encoded. Keyset pagination stays fast at any depth and
never skips or repeats a row when rows are inserted between two pages. The query side
(where a page starts, whether another follows) is quorum/db/repository.py; this module
turns the cursor into ``PageParams`` and a page of rows into a ``Page``.
"""

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from quorum.db.repository import PageParams, Rows
from quorum.errors import InvalidInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise InvalidInput("invalid_cursor", "The cursor is not one this API issued.") from None


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
    )
