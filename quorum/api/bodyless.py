"""Mutating routes that take no body refuse one: 422 ``validation_error``.

Unknown fields are refused everywhere else (``extra="forbid"``), so ``{"value": -1}``
sent with a vote must not be counted as a plain vote in silence: the client believes it
said something the server ignored. Nothing and the empty object ``{}`` are accepted as
"no body": many HTTP clients send ``{}`` with every JSON POST.

``TransactionalRoute`` applies this to every POST, PUT, PATCH and DELETE route that
declares no body, before any other work. The usual request (no Content-Length, or 0)
costs a header lookup; a declared length above a few bytes is refused unread; a chunked
body is read only until it is longer than an empty object can be.
"""

from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from quorum.api.errors import explain_validation

# Longest "empty object" accepted: "{}" with some whitespace around and inside it.
EMPTY_OBJECT_MAX = 64
_JSON_WHITESPACE = b" \t\r\n"
DETAIL = "This operation takes no request body: send none (or {})."


async def refuse_body(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is None and "transfer-encoding" not in request.headers:
        return
    if length == "0":
        return
    if length is not None and int(length) > EMPTY_OBJECT_MAX:  # quorum/api/edge.py: digits only
        _refuse(request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > EMPTY_OBJECT_MAX:
            _refuse(request)
    if not _is_nothing(body):
        _refuse(request)
    # Keep what was read for whoever reads the body next (the Idempotency-Key
    # fingerprint): the stream is consumed now, and this is where Starlette caches it.
    request._body = body


def _is_nothing(body: bytes) -> bool:
    body = body.strip(_JSON_WHITESPACE)
    return body == b"" or (
        body.startswith(b"{") and body.endswith(b"}") and not body[1:-1].strip(_JSON_WHITESPACE)
    )


def _refuse(request: Request) -> None:
    explain_validation(request, DETAIL)
    raise RequestValidationError(
        [{"loc": ("body",), "msg": DETAIL, "type": "body_not_allowed", "input": None}]
    )
