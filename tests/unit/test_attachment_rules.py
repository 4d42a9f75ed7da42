"""The pure parts of attachments: which files are allowed (from their bytes), which byte
range a Range header asks for, what a file may be called, and the local blob store's
all-or-nothing put."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quorum.attachments.ranges import RangeNotSatisfiable, byte_range
from quorum.attachments.sniff import SNIFF_BYTES, content_type
from quorum.attachments.upload import clean_filename
from quorum.errors import InvalidInput
from quorum.settings import Settings
from quorum.storage.store import create_store


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(32), "image/png"),
        (b"\xff\xd8\xff\xe0" + bytes(32), "image/jpeg"),
        (b"GIF89a" + bytes(32), "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(32), "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        ("Grüße, tab\tand lines\r\n".encode(), "text/plain"),
        ("é".encode() * (SNIFF_BYTES // 2 - 1) + b"a\xc3", "text/plain"),  # a cut character
        (b"PK\x03\x04" + bytes(32), None),  # zip (and docx, jar...)
        (b"\x7fELF\x02\x01\x01" + bytes(32), None),
        (b"MZ\x90\x00" + bytes(64), None),
        (b"text with a NUL\x00 inside", None),
        (b"\xff\xfe not utf-8", None),
        (b"", None),
    ],
)
def test_content_type_comes_from_the_bytes(head: bytes, expected: str | None) -> None:
    assert content_type(head) == expected


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, (0, 10)),
        ("bytes=90-", 100, (90, 100)),
        ("bytes=90-1000", 100, (90, 100)),
        ("bytes=-10", 100, (90, 100)),
        ("bytes=-1000", 100, (0, 100)),
        ("bytes=5-2", 100, None),  # invalid: ignored
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("items=0-1", 100, None),
        ("bytes=-", 100, None),
    ],
)
def test_byte_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=150-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        byte_range(header, 100)
    assert raised.value.size == 100


def test_filenames_lose_their_path_and_control_characters() -> None:
    assert clean_filename("C:\\Users\\me\\plan.pdf") == "plan.pdf"
    assert clean_filename('../../etc/pa"ss\nwd') == "pa_ss_wd"
    assert len(clean_filename("a" * 400)) == 255
    for bad in ["", "dir/", "..", " "]:
        with pytest.raises(InvalidInput):
            clean_filename(bad)


async def test_a_failed_put_leaves_no_object(tmp_path: Path) -> None:
    store = create_store(Settings(data_dir=tmp_path))

    async def cut() -> AsyncIterator[bytes]:
        yield b"x" * 6_000_000  # past one part
        raise ConnectionError("the client went away")

    with pytest.raises(ConnectionError):
        await store.put("attachments/e/a", cut())
    assert [o async for o in store.list("attachments/")] == []
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []

    async def whole() -> AsyncIterator[bytes]:
        yield b"0123456789"

    await store.put("attachments/e/b", whole())
    assert await store.size("attachments/e/b") == 10
    got = b"".join([c async for c in await store.get("attachments/e/b", 2, 5)])
    assert got == b"234"
    await store.delete("attachments/e/b")
    await store.delete("attachments/e/b")  # absent: no error
    assert await store.size("attachments/e/b") is None
