"""Security headers on every HTTP response, as plain ASGI middleware.

The API serves data, never pages, so its responses say so to browsers: no MIME
sniffing, no framing, no referrer, and a Content-Security-Policy that allows nothing,
so that a response opened as a document (a JSON body holding ``<script>``, say) can
run nothing. JSON is not cached (``no-store``): it is per user and changes all the
time. A header the response already set is left alone: the SSE stream's Cache-Control,
and the interactive docs pages' own CSP, which lets them run their scripts from this
origin (quorum/api/docs.py).
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
CSP = "default-src 'none'; frame-ancestors 'none'"
_JSON_TYPES = ("application/json", "application/problem+json")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", CSP)
                media_type = headers.get("content-type", "").split(";")[0].strip()
                if media_type in _JSON_TYPES:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
