"""WebSocket transport: the same messages as SSE, one JSON text frame each.

A client may send ``{"resume_from": N}`` at any time to restart delivery after ``N``
(from the log, or with a snapshot if ``N`` is too old), exactly as an SSE client does
by reconnecting with Last-Event-ID.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from quorum.realtime import metrics
from quorum.realtime.message import Message
from quorum.realtime.stream import Streams
from quorum.realtime.subscriber import Subscriber

HEARTBEAT_FRAME = '{"type":"heartbeat"}'
MAX_CLIENT_FRAME = 1024


class _WSTransport:
    name = "ws"

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def write(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self._ws.send_text(message.text)

    async def heartbeat(self) -> None:
        await self._ws.send_text(HEARTBEAT_FRAME)


async def _read_client(websocket: WebSocket, sub: Subscriber) -> None:
    """Take resume requests; anything else is a protocol error that closes the stream."""
    try:
        while True:
            raw = await websocket.receive_text()
            request = orjson.loads(raw) if len(raw) <= MAX_CLIENT_FRAME else None
            seq = request.get("resume_from") if isinstance(request, dict) else None
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                sub.close("bad_client_frame")
                return
            sub.request_resume(seq)
    except (WebSocketDisconnect, orjson.JSONDecodeError, RuntimeError):
        sub.close("disconnected")


async def serve(
    websocket: WebSocket, streams: Streams, topic_id: uuid.UUID, resume_from: int | None
) -> None:
    await websocket.accept()
    session = streams.open(topic_id)
    reader = asyncio.ensure_future(_read_client(websocket, session.subscriber))
    gauge = metrics.CONNECTIONS.labels("ws")
    gauge.inc()
    try:
        reason = await session.run(_WSTransport(websocket), resume_from)
        if reason != "disconnected":
            code = 1008 if reason == "bad_client_frame" else 1001  # policy violation / going away
            await websocket.close(code=code, reason=reason)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        gauge.dec()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
