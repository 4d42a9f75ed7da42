"""An upload as a stream of the file's bytes, from a raw body or a multipart form.

Nothing is spooled: a multipart body goes through python-multipart's push parser chunk by
chunk (Starlette's ``request.form()`` would write the whole file to a temporary file
first), and a raw body is the file itself. The bytes are counted as they arrive and the
upload fails at the first byte past the cap; a declared Content-Length over it fails
before anything is read. The kind of file is decided from its first ``SNIFF_BYTES``
(quorum/attachments/sniff.py) before anything is stored.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from quorum.attachments.models import FILENAME_MAX
from quorum.attachments.sniff import SNIFF_BYTES, content_type
from quorum.errors import InvalidInput, TooLarge, UnsupportedType

FORM_OVERHEAD = 64 * 1024  # a multipart body's boundaries, headers and small fields
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        "attachment_too_large", f"The file exceeds {max_bytes} bytes (QUORUM_MAX_ATTACHMENT_BYTES)."
    )


def filename_required() -> InvalidInput:
    return InvalidInput(
        "filename_required",
        "Send the file as multipart/form-data, or ?filename= with a raw body.",
    )


def clean_filename(name: str) -> str:
    """The last path component, without control characters or quotes, at most 255 long."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip()[:FILENAME_MAX]
    if not cleaned or cleaned in {".", ".."}:
        raise filename_required()
    return cleaned


@dataclass
class IncomingFile:
    """The file being received: its name and kind, known once ``open_upload`` returns,
    and its bytes, read by whoever iterates ``chunks()`` (once)."""

    filename: str
    content_type: str
    _head: bytes
    _rest: AsyncIterator[bytes]
    _max_bytes: int
    size: int = field(default=0)

    async def chunks(self) -> AsyncIterator[bytes]:
        self.size = len(self._head)
        yield self._head
        async for chunk in self._rest:
            self.size += len(chunk)
            if self.size > self._max_bytes:
                raise too_large(self._max_bytes)
            yield chunk


async def open_upload(request: Request, max_bytes: int, filename: str | None) -> IncomingFile:
    """Start receiving the request's file; 413, 415 or 422 before anything is stored."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + FORM_OVERHEAD:
        raise too_large(max_bytes)
    media_type = request.headers.get("content-type", "")
    if media_type.startswith("multipart/form-data"):
        form = _FormFile(media_type, max_bytes + FORM_OVERHEAD)
        data = form.file_bytes(request.stream())
    elif filename is None:
        raise filename_required()
    else:
        form = None
        data = aiter(request.stream())
    head = await _read_head(data)
    if len(head) > max_bytes:
        raise too_large(max_bytes)
    name = form.filename if form is not None else filename
    if name is None:
        raise filename_required()
    kind = content_type(head[:SNIFF_BYTES])
    if kind is None:
        raise UnsupportedType(
            "unsupported_attachment_type",
            "Attachments may be PNG, JPEG, GIF, WebP, PDF or plain text; "
            "this file is none of them.",
        )
    return IncomingFile(clean_filename(name), kind, head, data, max_bytes)


async def _read_head(data: AsyncIterator[bytes]) -> bytes:
    head = b""
    async for chunk in data:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return head


class _FormFile:
    """The first file part of a multipart body, pushed through the parser as it comes."""

    def __init__(self, media_type: str, max_body: int) -> None:
        _, options = parse_options_header(media_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise InvalidInput("invalid_multipart", "multipart/form-data needs a boundary.")
        self.filename: str | None = None
        self._max_body = max_body
        self._in_file = False
        self._done = False
        self._header = (bytearray(), bytearray())
        self._disposition = b""
        self._out: list[bytes] = []
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._header[0].extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header[1].extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    async def file_bytes(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in body:
            received += len(chunk)
            if received > self._max_body:
                raise TooLarge("attachment_too_large", "The form exceeds the attachment cap.")
            self._parser.write(chunk)
            out, self._out = self._out, []
            for piece in out:
                yield piece
        self._parser.finalize()
        if self.filename is None:
            raise filename_required()

    def _part_begin(self) -> None:
        self._disposition = b""

    def _header_end(self) -> None:
        name, value = self._header
        if bytes(name).lower() == b"content-disposition":
            self._disposition = bytes(value)
        name.clear()
        value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        filename = options.get(b"filename")
        if filename is not None and not self._done:
            self.filename = filename.decode("utf-8", errors="replace")
            self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._done = True
