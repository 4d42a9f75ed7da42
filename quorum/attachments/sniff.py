"""Which kind of file an upload is, from its first bytes, never from the client's word.

The allow-list is small on purpose: files a browser shows without running anything.
Binary kinds are recognised by their magic numbers (the ``filetype`` library, pure Python
and without system libraries); plain text has none, so it is text when its first bytes
are UTF-8 without control characters other than tab and line ends.
"""

import filetype

SNIFF_BYTES = 8192  # enough for every signature below, and for a fair look at text
ALLOWED = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
TEXT = "text/plain"
_TEXT_CONTROLS = frozenset(b"\t\n\r\f")


def content_type(head: bytes) -> str | None:
    """The allowed content type of a file starting with ``head``, or None."""
    kind = filetype.guess_mime(head)
    if kind in ALLOWED:
        return str(kind)
    if kind is None and head and _is_text(head):
        return TEXT
    return None


def _is_text(head: bytes) -> bool:
    # A multibyte character cut at the end of ``head`` is not a reason to refuse.
    text = head.decode("utf-8", errors="ignore") if len(head) == SNIFF_BYTES else None
    try:
        text = head.decode("utf-8") if text is None else text
    except UnicodeDecodeError:
        return False
    if len(head) == SNIFF_BYTES and len(text.encode()) < len(head) - 3:
        return False  # more than a cut character was invalid
    return all(ch >= " " or ord(ch) in _TEXT_CONTROLS for ch in text if ord(ch) < 128)
