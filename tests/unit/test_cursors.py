"""Cursors of sorted lists: they give back the exact (key, id) they were made of (a time
to the microsecond), and refuse to continue another order."""

import base64
import uuid
from datetime import UTC, datetime

import pytest

from quorum.api.pagination import (
    decode_sorted_cursor,
    encode_cursor,
    encode_sorted_cursor,
)
from quorum.db.base import uuid7
from quorum.errors import InvalidInput

WHEN = datetime(2026, 11, 29, 10, 4, 0, 123457, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sort", "key", "key_type"),
    [("most_votes", 0, int), ("most_votes", 123456, int), ("recently_decided", WHEN, datetime)],
)
def test_a_sorted_cursor_round_trips(sort: str, key: int | datetime, key_type: type) -> None:
    last = uuid7()
    cursor = encode_sorted_cursor(sort, (key, last))
    assert decode_sorted_cursor(cursor, sort, key_type) == (key, last)
    assert len(cursor) <= 160  # the query parameter's cap


def test_the_default_order_keeps_the_plain_id_cursor() -> None:
    last = uuid7()
    assert encode_sorted_cursor("newest", (None, last)) == encode_cursor(last)
    assert decode_sorted_cursor(encode_cursor(last), "newest", None) == (None, last)


def _code(cursor: str, sort: str, key_type: type | None) -> str:
    with pytest.raises(InvalidInput) as raised:
        decode_sorted_cursor(cursor, sort, key_type)
    return raised.value.code


def test_a_cursor_of_another_order_is_a_mismatch() -> None:
    by_votes = encode_sorted_cursor("most_votes", (3, uuid.uuid4()))
    assert _code(by_votes, "recently_decided", datetime) == "cursor_sort_mismatch"
    assert _code(by_votes, "newest", None) == "cursor_sort_mismatch"
    assert _code(encode_cursor(uuid.uuid4()), "most_votes", int) == "cursor_sort_mismatch"


def test_a_cursor_with_the_wrong_key_type_or_garbage_is_invalid() -> None:
    timed = encode_sorted_cursor("most_votes", (WHEN, uuid.uuid4()))
    assert _code(timed, "most_votes", int) == "invalid_cursor"
    for garbage in ("%%%", "", "bW9zdF92b3Rlc35pM34", "YWJj"):
        assert _code(garbage, "most_votes", int) == "invalid_cursor"
    last = uuid.uuid4().hex
    for sort, key in (("most_votes", f"i{2**31}"), ("recently_decided", f"t{10**20}")):
        huge = base64.urlsafe_b64encode(f"{sort}~{key}~{last}".encode()).decode()
        assert _code(huge, sort, int if key[0] == "i" else datetime) == "invalid_cursor"
