"""WebSocket transport: the same messages as SSE, one JSON text frame each.

A client resumes on connect with ``?last_event_id=N`` (the route reads it before the
first frame is sent), exactly as an SSE client does with Last-Event-ID. Once delivery has
started, ``{"resume_from": N}`` is taken from where the connection is: at or ahead of the
last seq sent, nothing changes; behind it, a fresh ``snapshot`` follows, which supersedes
the client's state. No entry is ever sent twice on one connection.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from quorum.realtime import metrics
from quorum.realtime.abort import abort_of
from quorum.realtime.hub import ACCESS_REVOKED, SESSION_ENDED
from quorum.realtime.message import Message, Topic, ws_text_frame
from quorum.realtime.stream import (
    DATABASE_UNAVAILABLE,
    TOPIC_ENDED,
    Streams,
    StreamSession,
    WriteNow,
)
from quorum.realtime.subscriber import Subscriber

TRY_AGAIN_LATER = 1013  # the close code of a server at capacity (RFC 6455 registry)
HEARTBEAT_FRAME = '{"type":"heartbeat"}'
MAX_CLIENT_FRAME = 1024
# Why the server ended a stream -> the close code it sends (anything else: 1001, going away).
CLOSE_CODES = {
    "bad_client_frame": 1008,  # policy violation: text that is not a resume request
    "binary_frame": 1003,  # unsupported data: the protocol is JSON text frames
    TOPIC_ENDED: 1000,  # normal closure: the topic's final message was sent
    ACCESS_REVOKED: 4403,  # the application's 403: the principal lost access (hub.py)
    SESSION_ENDED: 4401,  # the application's 401: the stream's login session ended (hub.py)
    DATABASE_UNAVAILABLE: TRY_AGAIN_LATER,  # the stream could not read the database
}


# Where the server may put a coroutine function that writes complete frames to the socket
# (quorum/wsprotocol.py, under ``quorum serve``): given bytes, it raises as ``send`` would.
FRAME_WRITER = "quorum.ws_frame_writer"
FrameWriter = Callable[[bytes], Awaitable[None]]
# And its synchronous twin for the hub's fan-out: True if the frame was written at once,
# False if the socket could not take it without waiting (the stream's task then sends it).
FRAME_WRITER_NOW = "quorum.ws_frame_writer_now"
FrameWriterNow = Callable[[bytes], bool]
HEARTBEAT_WS_FRAME = ws_text_frame(HEARTBEAT_FRAME.encode())


class _WSTransport:
    """Every subscriber of a message is sent the same frame: with the server's
    ``FRAME_WRITER``, the bytes built once (``Message.ws``) go to the socket as they are,
    a batch in one write, as SSE frames do; without it, each is an ASGI ``websocket.send``
    that the server frames per socket."""

    name = "ws"

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._write: FrameWriter | None = websocket.scope.get(FRAME_WRITER)
        self._write_now: FrameWriterNow | None = websocket.scope.get(FRAME_WRITER_NOW)

    def direct(self) -> WriteNow | None:
        """``write_now`` if the server offers a synchronous frame writer."""
        return self.write_now if self._write_now is not None else None

    def write_now(self, message: Message | None) -> bool:
        """Write ``message`` (None: a heartbeat) from the hub's fan-out, without waking
        the stream's task (``StreamSession._write_now``), if the socket takes it at once."""
        write = self._write_now
        return write is not None and write(HEARTBEAT_WS_FRAME if message is None else message.ws)

    async def write(self, messages: Sequence[Message]) -> None:
        if self._write is not None:
            await self._write(
                messages[0].ws if len(messages) == 1 else b"".join(m.ws for m in messages)
            )
            return
        for message in messages:
            await self._ws.send_text(message.text)

    async def heartbeat(self) -> None:
        if self._write is not None:
            await self._write(HEARTBEAT_WS_FRAME)
        else:
            await self._ws.send_text(HEARTBEAT_FRAME)


async def _read_client(websocket: WebSocket, sub: Subscriber) -> None:
    """Take resume requests; any other frame is a protocol error that closes the stream."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                sub.close("disconnected")
                return
            text = message.get("text")
            if text is None:
                sub.close("binary_frame")
                return
            seq = _resume_request(text)
            if seq is None:
                sub.close("bad_client_frame")
                return
            sub.request_resume(seq)
    except RuntimeError:  # receive() after the socket was closed
        sub.close("disconnected")


def _resume_request(text: str) -> int | None:
    """N of ``{"resume_from": N}``, or None if ``text`` is anything else."""
    if len(text) > MAX_CLIENT_FRAME:
        return None
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    seq = request.get("resume_from") if isinstance(request, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return seq


async def serve(
    websocket: WebSocket,
    streams: Streams,
    topic_id: Topic,
    resume_from: int | None,
    audience: str = "",
    *,
    principal: str | None = None,
    session: str | None = None,
) -> None:
    """Stream to ``websocket`` from a task of its own while this request's task reads
    what the client sends; ``principal``: whom the hub's ``evicts`` may name;
    ``session``: what its ``end_sessions`` may. ``Streams.admit``'s refusal is raised
    before the handshake is answered (the caller's to send as a denial response)."""
    abort = abort_of(websocket.scope)
    with StreamSession(
        streams, topic_id, abort, audience, principal=principal, session=session
    ) as stream:
        await stream.admit()
        await websocket.accept()
        gauge = metrics.CONNECTIONS.labels("ws")
        gauge.inc()
        try:
            # As in sse.py: every message wakes the writer, which is suspended under 3
            # frames; this request's task, under the whole ASGI stack, wakes only for what
            # the client sends. The reading ends with the socket, however the writer ends
            # the stream (its close frame is answered, or the connection lost).
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_stream(websocket, stream, resume_from))
                await _read_client(websocket, stream.subscriber)
        finally:
            gauge.dec()


async def _stream(websocket: WebSocket, session: StreamSession, resume_from: int | None) -> None:
    try:
        transport = _WSTransport(websocket)
        reason = await session.run(transport, resume_from, transport.direct())
        if reason != "disconnected":
            await websocket.close(code=CLOSE_CODES.get(reason, 1001), reason=reason)
    except (WebSocketDisconnect, OSError, RuntimeError):  # the client went away mid-write
        pass
