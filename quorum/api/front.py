"""``Front``: one plain route served ahead of the app's middleware stack.

A request's task stays suspended, for as long as its response lasts, in every coroutine
that led to the response, each holding its frame and the ``send`` wrapper it made. For
an SSE stream that is the whole stack, for hours: FastAPI's and Starlette's middleware
(server errors, telemetry, body limit, exception handling, the exit stack), ours (the
connection abort, the edge), the router's five levels and the route, some 20 frames and
their closures, about 8 KB of every idle stream (bench/fanout: 1,000 idle streams).
``Front`` serves the route from the application's ``__call__`` instead, and does for it,
in one frame, what those layers do:

- the connection abort's capture of the server's object (quorum/realtime/abort.py);
- the edge (quorum/api/edge.py): request id, security headers, metrics and access line;
- the route match: the same scope keys the router sets (``endpoint``, ``path_params``,
  ``route``: the metrics label the route by its template);
- error handling as Starlette's two middleware do it: an exception with one of the
  app's handlers (the problem+json of quorum/api/errors.py) is answered through the
  edge, unless the response has started; any other is the 500 handler's, answered
  without the edge's headers (Starlette's outermost middleware answers it) and raised
  on to the server, which logs it and closes the connection.

It serves only what it would answer exactly as the stack does, and steps aside for the
rest: another method (the stack's 405), a request that may carry a body (one to count or
refuse: Content-Length other than 0, Transfer-Encoding, or HTTP/2, where neither need be
sent), an app under FastAPI's telemetry. The app builds no ``Front`` when CORS is on:
its middleware would add headers.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import ExceptionHandler, Receive, Scope, Send

from quorum.api.edge import Edge, read_headers
from quorum.realtime.abort import capture

Open = Callable[[Scope, Receive], Awaitable[Response]]
_HTTP1 = frozenset({"1.0", "1.1"})


class Front:
    """Serves ``route`` (under ``prefix``) with ``open``, which answers a request with its
    response (or raises), ahead of ``app``'s middleware; ``edge`` is configured as the
    app's own."""

    def __init__(self, app: FastAPI, prefix: str, route: APIRoute, open: Open, edge: Edge) -> None:
        self.app = app
        self.prefix = prefix
        self.route = route
        self.open = open
        self.edge = edge
        self._suffix = route.path.rsplit("}", 1)[-1]  # a cheap first test of the path
        self._handlers: tuple[dict[Any, ExceptionHandler], dict[int, ExceptionHandler]] | None
        self._handlers = None

    def takes(self, scope: Scope) -> bool:
        """Whether this request is the route's and the front's to serve; if so its scope
        now has what the router would have put in it."""
        app = self.app
        if scope["type"] != "http" or scope.get("root_path") or app.root_path or app.debug:
            return False
        path: str = scope["path"]
        if not (path.endswith(self._suffix) and path.startswith(self.prefix)):
            return False
        if scope.get("http_version") not in _HTTP1 or self._telemetry():
            return False
        _, declared, encoded = read_headers(scope)
        if encoded or (declared is not None and declared != b"0"):
            return False
        routed = {"type": "http", "path": path[len(self.prefix) :], "method": scope["method"]}
        match, child = self.route.matches(routed)
        if match is not Match.FULL:
            return False
        scope.update(child)
        scope["route"] = self.route
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app
        capture(scope, send)
        given, _, _ = read_headers(scope)
        exchange = self.edge.begin(scope, send, given)
        try:
            try:
                try:
                    # Not kept in a local: only what the call returns lives on.
                    answering = (await self.open(scope, receive))(scope, receive, exchange.send)
                    await answering
                except Exception as exc:
                    handler = self._handler(exc)
                    if handler is None:
                        raise
                    if exchange.status:
                        raise RuntimeError(
                            "Caught handled exception, but response already started."
                        ) from exc
                    answer = await _answer(handler, Request(scope, receive, exchange.send), exc)
                    if answer is not None:
                        await answer(scope, receive, exchange.send)
                    exc.__traceback__ = None  # as Starlette: a reused exception's grows
            finally:
                self.edge.end(scope, exchange)
        except Exception as exc:
            handlers = self.app.exception_handlers
            handler = handlers.get(500) or handlers.get(Exception)
            error: Response
            if handler is None:
                error = PlainTextResponse("Internal Server Error", status_code=500)
            else:
                error = cast(Response, await _answer(handler, Request(scope), exc))
            if not exchange.status:
                await error(scope, receive, send)
            raise

    def _telemetry(self) -> bool:
        telemetry = getattr(self.app, "_native_telemetry", None)
        return telemetry is not None and bool(telemetry.enabled())

    def _handler(self, exc: Exception) -> ExceptionHandler | None:
        """The handler Starlette's ``ExceptionMiddleware`` would pick for ``exc``."""
        if self._handlers is None:  # the app's handlers are all added by the first request
            handlers = self.app.exception_handlers
            self._handlers = (
                {k: v for k, v in handlers.items() if isinstance(k, type) and k is not Exception},
                {k: v for k, v in handlers.items() if isinstance(k, int) and k != 500},
            )
        by_class, by_status = self._handlers
        if isinstance(exc, HTTPException) and exc.status_code in by_status:
            return by_status[exc.status_code]
        for kind in type(exc).__mro__:
            if kind in by_class:
                return by_class[kind]
        return None


async def _answer(handler: Any, request: Request, exc: Exception) -> Response | None:
    """``handler``'s answer to ``exc``, as Starlette calls it (a function: in a thread)."""
    if is_async_callable(handler):
        return cast(Response | None, await handler(request, exc))
    return cast(Response | None, await run_in_threadpool(handler, request, exc))
