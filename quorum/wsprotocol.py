"""uvicorn's sans-I/O WebSocket protocol, holding per socket no more than a stream needs.

An idle WebSocket cost about 1.6 times an idle SSE stream (bench/run_ws.sh, issue 14);
tracemalloc snapshots of 500 idle sockets showed where the difference went, and this
subclass of uvicorn's ``WebSocketsSansIOProtocol`` drops it:

- the handshake: uvicorn keeps its request and response as attributes, and websockets'
  parser generator keeps the request in a local for the socket's life, though nothing
  reads either once the scope is built and the response sent: about 5 KB. The
  attributes go once the handshake is answered, and the request's headers and path
  (the bulk of it) are emptied once the scope has copied them;
- the receive queue: an ``asyncio.Queue`` (three deques and an ``Event`` with a fourth,
  about 3 KB) for the few frames a client sends; ``_Inbox`` is a list and one future;
- the flow-control flag: an ``asyncio.Event`` (a deque, about 0.8 KB); ``_Writable``
  holds a future only while the transport is paused.

It also offers the application a cheaper send for the fan-out (``write_frame``, in the
scope under ``FRAME_WRITER``): the same text frame is written to every subscriber of a
message, so quorum/realtime/ws.py builds it once (``Message.ws``) and hands the bytes to
each socket's transport, where an ASGI ``websocket.send`` would pass the text through
the middleware stack and have websockets frame it again per socket. Its synchronous
twin (``write_frame_now``, under ``FRAME_WRITER_NOW``) lets the hub's fan-out write a
live message to a socket whose stream task is parked without waking that task, as the
SSE response does (quorum/realtime/sse.py).

This overrides uvicorn internals (``queue``, ``writable``, ``handle_connect``, ``send``
and the two handshake attributes); the WebSocket tests run against the uvicorn in uv.lock.
"""

import asyncio
from typing import Any

from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request
from websockets.protocol import State

from quorum.realtime.ws import FRAME_WRITER, FRAME_WRITER_NOW


class _Inbox:
    """What ``asyncio.Queue`` does for uvicorn's ``receive``: ``put_nowait``, ``get``,
    ``empty``, unbounded, in order, a getter woken per message put."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._waiters: list[asyncio.Future[None]] = []

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        self._wake()

    async def get(self) -> ASGIReceiveEvent:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif self._items:
                    self._wake()  # woken but cancelled: the item is another getter's
                raise
        return self._items.pop(0)

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


class _Writable:
    """What ``asyncio.Event`` does for uvicorn's flow control (``set``, ``clear``,
    ``wait``), with a future only while someone waits for the transport to drain."""

    __slots__ = ("_paused", "_waiter")

    def __init__(self) -> None:
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return not self._paused

    def set(self) -> None:
        self._paused = False
        if self._waiter is not None:
            if not self._waiter.done():
                self._waiter.set_result(None)
            self._waiter = None

    def clear(self) -> None:
        self._paused = True

    async def wait(self) -> bool:
        if self._paused:
            if self._waiter is None:
                self._waiter = asyncio.get_running_loop().create_future()
            # Shielded: one sender's cancellation must not cancel the others' wait.
            await asyncio.shield(self._waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Writable()  # type: ignore[assignment]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101 and not self.conn.extensions:
            # With permessage-deflate the frames are websockets' to compress: no writer.
            self.scope[FRAME_WRITER] = self.write_frame  # type: ignore[literal-required]
            self.scope[FRAME_WRITER_NOW] = self.write_frame_now  # type: ignore[literal-required]
        # Copied into the scope; websockets' parser keeps ``event`` for the socket's life.
        event.headers.clear()
        event.path = ""  # with its query, which may hold a stream ticket

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if self.handshake_complete and hasattr(self, "response"):
            del self.request, self.response  # read only until the handshake is answered

    def write_frame_now(self, frame: bytes) -> bool:
        """``write_frame`` for the hub's fan-out, which cannot wait: ``frame`` is written
        at once if the socket is open and the client has taken everything written before;
        otherwise False, and the stream's task sends it with ``write_frame``, which waits
        for the client or raises (so a client that never reads is dropped as before)."""
        if (
            self.disconnected
            or self.close_sent
            or self.conn.state is not State.OPEN
            or not self.writable.is_set()
            or self.transport.get_write_buffer_size()
        ):
            return False
        self.transport.write(frame)
        return True

    async def write_frame(self, frame: bytes) -> None:
        """Write ``frame``, complete WebSocket frames, as ``send`` would write a
        ``websocket.send``: after the transport drains, and only on an open socket
        (``ClientDisconnected`` once it is lost or the client closed it, ``RuntimeError``
        once the application closed it)."""
        if not self.writable.is_set():
            await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if self.close_sent or not self.handshake_complete or self.initial_response is not None:
            raise RuntimeError("write_frame: the socket is not open for messages")
        if self.conn.state is not State.OPEN:  # the client's close frame came in
            raise ClientDisconnected()
        self.transport.write(frame)
