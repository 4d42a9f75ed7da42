"""The API's edge, as one plain ASGI middleware: request id, metrics and access log,
security headers, and the request body cap.

One layer instead of four because every layer costs each request a coroutine frame
and a ``send`` wrapper, whatever it does (bench/RESULTS.md: the wrappers were 8 % of a
vote's CPU). What can be known before the first request (header tuples, the exempt
pattern, the metric children of each route) is built once.

Request id. It comes from the caller's ``X-Request-ID`` when it is sane (a proxy's id
then joins both logs), or is generated; it is bound to every log line of the request
and returned in the response. The access line has the path without its query string:
stream tickets travel there.

Security headers (HTTP only). The API serves data, never pages, so its responses say so
to browsers: no MIME sniffing, no framing, no referrer, and a Content-Security-Policy
that allows nothing, so that a response opened as a document (a JSON body holding
``<script>``, say) can run nothing. JSON is not cached (``no-store``): it is per user
and changes all the time. A header the response already set is left alone: the SSE
stream's Cache-Control, and the interactive docs pages' own CSP, which lets them run
their scripts from this origin (quorum/api/docs.py).

Body cap (HTTP only). The declared Content-Length is checked before anything is read; a
body without one (chunked) is counted as it arrives and refused as soon as it passes the
cap, so an oversized upload never sits in memory. A declared length within the cap needs
no counting: the server delivers no more than it. Paths matching ``exempt`` (attachment
uploads) are left to their route, which enforces a cap of its own while it streams.
"""

import re
import time
import uuid
from collections.abc import Callable

import structlog
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quorum.api.errors import problem

HEADER = b"x-request-id"
MAX_LENGTH = 128
log = structlog.get_logger("quorum.access")
REQUESTS = Counter("quorum_http_requests_total", "HTTP requests.", ["method", "route", "status"])
LATENCY = Histogram(
    "quorum_http_request_duration_seconds",
    "Time to the end of the response (for streams: their whole life), by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0),
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
NO_STORE = (b"cache-control", b"no-store")
_JSON_TYPES = frozenset({b"application/json", b"application/problem+json"})
_RESPONSE_STARTS = frozenset({"http.response.start", "websocket.http.response.start"})


def request_id(given: bytes | None) -> str:
    """The caller's id when it is 1 to 128 printable ASCII characters, else a new one."""
    if given is not None and 0 < len(given) <= MAX_LENGTH and given.isascii():
        text = given.decode("ascii")
        if text.isprintable():
            return text
    return uuid.uuid4().hex


def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with the security headers it lacks, and ``no-store`` for JSON."""
    present = set()
    media_type = b""
    for name, value in headers:
        name = name.lower()
        present.add(name)
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
    added = [header for header in SECURITY_HEADERS if header[0] not in present]
    if media_type in _JSON_TYPES and NO_STORE[0] not in present:
        added.append(NO_STORE)
    return [*headers, *added] if added else headers


class _Metrics:
    """The labelled children of the request metrics, looked up once per label set:
    ``labels()`` validates and locks on every call."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], Callable[[], None]] = {}
        self._latencies: dict[tuple[str, str], Callable[[float], None]] = {}

    def observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        count = self._counts.get((method, route, status))
        if count is None:
            count = REQUESTS.labels(method, route, str(status)).inc
            self._counts[method, route, status] = count
        count()
        latency = self._latencies.get((method, route))
        if latency is None:
            latency = LATENCY.labels(method, route).observe
            self._latencies[method, route] = latency
        latency(elapsed)


_metrics = _Metrics()  # one per process, like the metrics themselves


class Exchange:
    """One request at the edge: the id header its response carries, the status it was
    answered with (0: none yet), when it began. ``send`` is the server's with the headers
    added to the response's start; a bound method of a slotted object, not a closure
    over the request's locals: a stream holds it for its whole life."""

    __slots__ = ("_send", "_id_header", "_http", "status", "started")

    def __init__(self, send: Send, id_header: tuple[bytes, bytes], http: bool) -> None:
        self._send = send
        self._id_header = id_header
        self._http = http
        self.status = 0
        self.started = time.perf_counter()

    async def send(self, message: Message) -> None:
        if message["type"] in _RESPONSE_STARTS:
            self.status = message["status"]
            headers = message.get("headers", [])
            if self._http:
                headers = secured(list(headers))
            message["headers"] = [*headers, self._id_header]
        await self._send(message)


def read_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bool]:
    """The request's ``X-Request-ID`` and ``Content-Length`` (the first of each), and
    whether it has a ``Transfer-Encoding`` (a body of undeclared length)."""
    given = declared = None
    encoded = False
    for name, value in scope["headers"]:
        if name == HEADER:
            given = value if given is None else given
        elif name == b"content-length":
            declared = value
        elif name == b"transfer-encoding":
            encoded = True
    return given, declared, encoded


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_cap_exempt: re.Pattern[str] | None = None,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.exempt = body_cap_exempt
        self.access_log = access_log
        self._too_large = f"The body exceeds {max_body_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        given, declared, _ = read_headers(scope)
        exchange = self.begin(scope, send, given)
        try:
            if kind != "http" or (self.exempt is not None and self.exempt.fullmatch(scope["path"])):
                await self.app(scope, receive, exchange.send)
            elif declared is None:
                await self.app(scope, self._counting(receive), exchange.send)
            elif self.within_cap(declared):
                await self.app(scope, receive, exchange.send)
            else:
                await self.too_large()(scope, receive, exchange.send)
        finally:
            self.end(scope, exchange)

    def begin(self, scope: Scope, send: Send, given: bytes | None) -> Exchange:
        """The request's id (bound to its log lines) and its ``Exchange``."""
        rid = request_id(given)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        return Exchange(send, (HEADER, rid.encode()), scope["type"] == "http")

    def end(self, scope: Scope, exchange: Exchange) -> None:
        """The request's metrics and access line, once it is answered (a stream: ended)."""
        elapsed = time.perf_counter() - exchange.started
        method = scope.get("method", "WS")
        route = getattr(scope.get("route"), "path", "unmatched")  # the template, not the ids
        _metrics.observe(method, route, exchange.status, elapsed)
        if self.access_log:
            log.info(
                "request",
                method=method,
                path=scope["path"],
                status=exchange.status or None,
                duration_ms=round(elapsed * 1000, 2),
            )

    def within_cap(self, declared: bytes) -> bool:
        """A declared Content-Length the cap admits (digits only)."""
        return declared.isdigit() and int(declared) <= self.max_body_bytes

    def too_large(self) -> Response:
        return problem(413, "body_too_large", self._too_large)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise HTTPException(413, self._too_large)
            return message

        return counting_receive
