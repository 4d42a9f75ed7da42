"""Ids: version 7, the standard library's type, and increasing in creation order, which
every cursor-paginated list relies on."""

import uuid

from quorum.db.base import uuid7


def test_uuid7_is_a_standard_version_7_uuid() -> None:
    value = uuid7()
    assert type(value) is uuid.UUID
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_increases_even_within_one_millisecond() -> None:
    ids = [uuid7() for _ in range(10_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
