"""Aborting a client's connection from inside the application.

A slow consumer is dropped because its client does not read; by then its writer is
usually stuck in ``await send(...)``, which the server holds back (flow control) until
the client reads. Ending the response does not free anything: the server (uvicorn) then
closes its transport, and asyncio's ``close()`` waits for the buffer to flush, which it
never does. The socket, the request's task and the user's stream slot stay for as long
as the client likes. ASGI has no message for "drop this connection now".

``ConnectionAbort`` is the outermost ASGI middleware, so it sees the server's own
``send``. In uvicorn that is a method of the connection's protocol (WebSocket) or of its
request cycle (HTTP), both of which hold the asyncio transport; if there is one, the
middleware puts that object in the scope, and ``abort_of`` makes an ``abort`` function
for its transport (one scope key for both uses: the scope lives as long as a stream,
and one more key can double its table). ``abort`` resets the
connection: ``SO_LINGER`` 0, so the kernel discards what is unsent and answers with a
reset rather than keeping the orphaned socket and its buffer for minutes, then
``transport.abort()``, which drops the server's buffer and reports the connection lost:
the blocked ``send`` returns, the stream ends and its slot is given back. Under a server
whose ``send`` reveals no transport, the scope has no ``abort`` and a dropped stream ends
as it did before.

``server_of`` gives the object itself: the SSE response writes live messages straight to
uvicorn's transport from the hub's fan-out when it can (quorum/realtime/sse.py).
"""

import contextlib
import functools
import socket
import struct
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE_KEY = "quorum.server"
_LINGER_RESET = struct.pack("ii", 1, 0)  # on, 0 seconds: close() sends a reset

Abort = Callable[[], None]


class ConnectionAbort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            capture(scope, send)
        await self.app(scope, receive, send)


def capture(scope: Scope, send: Send) -> None:
    """What ``ConnectionAbort`` does for a request: given the server's own ``send``, put
    the object behind it in the scope if it has a transport to abort. For an app that
    serves a route ahead of its middleware (quorum/api/front.py)."""
    server = getattr(send, "__self__", None)
    transport = getattr(server, "transport", None)
    if callable(getattr(transport, "abort", None)):
        scope[SCOPE_KEY] = server


def abort_of(scope: Scope) -> Abort | None:
    """The function that resets this request's connection, if the server exposes it."""
    server = scope.get(SCOPE_KEY)
    return None if server is None else functools.partial(_reset, server.transport)


def server_of(scope: Scope) -> Any:
    """The server's object behind its own ``send`` (uvicorn: the request cycle, or the
    WebSocket protocol), if it has a transport; else None."""
    return scope.get(SCOPE_KEY)


def _reset(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: abort() is then a no-op too
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()
