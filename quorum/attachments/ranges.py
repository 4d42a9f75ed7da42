"""One ``Range: bytes=...`` request header against a file's size (RFC 9110 §14).

Only a single range is served as 206; a header this module cannot read, or one asking
for several ranges, is ignored and the whole file is sent (which RFC 9110 allows). A
range that starts beyond the file is unsatisfiable: 416.
"""

import re

from quorum.errors import DomainError

_SINGLE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(DomainError):
    """No byte of the range is in the file; the handler answers 416 with its size."""

    def __init__(self, size: int) -> None:
        super().__init__(
            "range_not_satisfiable", f"The range starts beyond the file's {size} bytes."
        )
        self.size = size


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``(start, end)`` (end exclusive) to send, or None for the whole file."""
    if header is None:
        return None
    match = _SINGLE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # bytes=-N: the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise RangeNotSatisfiable(size)
        return max(size - suffix, 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if last != "" and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, end
