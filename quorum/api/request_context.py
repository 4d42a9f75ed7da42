"""Request id and access log, as plain ASGI middleware.

The id comes from the caller's ``X-Request-ID`` when it is sane (a proxy's id then joins
both logs), or is generated; it is bound to every log line of the request and returned
in the response. The access line has the path without its query string: stream tickets
travel there.
"""

import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
MAX_LENGTH = 128
log = structlog.get_logger("quorum.access")
REQUESTS = Counter("quorum_http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "quorum_http_request_duration_seconds",
    "Time to the end of the response (for streams: their whole life), by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0),
)


def _request_id(scope: Scope) -> str:
    given = Headers(scope=scope).get(HEADER, "")
    if 0 < len(given) <= MAX_LENGTH and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp, access_log: bool) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope.get("method", "WS")
            route = getattr(scope.get("route"), "path", "unmatched")  # the template, not the ids
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            if self.access_log:
                log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    status=status or None,
                    duration_ms=round(elapsed * 1000, 2),
                )
