"""Cursor pagination: an opaque cursor, a capped limit, one ``Page`` schema.

Every list is ordered by a time-ordered UUID primary key, so the cursor is the last
id of the page, base64url-encoded. Keyset pagination stays fast at any depth and
never skips or repeats a row when rows are inserted between two pages.
"""

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from quorum.errors import InvalidInput

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


T = TypeVar("T")


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


class PageParams(BaseModel):
    after: uuid.UUID | None
    limit: int


def page_params(
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(after=decode_cursor(cursor) if cursor else None, limit=limit)


def make_page(rows: Sequence[T], params: PageParams, key: Callable[[T], uuid.UUID]) -> Page[T]:
    """``rows`` was fetched with ``limit + 1``: the extra row only says a next page exists."""
    items = list(rows[: params.limit])
    more = len(rows) > params.limit
    return Page[T](items=items, next_cursor=encode_cursor(key(items[-1])) if more else None)
