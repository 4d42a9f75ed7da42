"""Request body cap, as plain ASGI middleware.

The declared Content-Length is checked before anything is read; a chunked body is
counted as it arrives and refused as soon as it passes the cap, so an oversized upload
never sits in memory. Paths matching ``exempt`` (attachment uploads) are left to their
route, which enforces a cap of its own while it streams.
"""

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quorum.api.errors import problem


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, exempt: re.Pattern[str] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and self.exempt.fullmatch(scope["path"])):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = problem(413, "body_too_large", f"The body exceeds {self.max_bytes} bytes.")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, f"The body exceeds {self.max_bytes} bytes.")
            return message

        await self.app(scope, counting_receive, send)
