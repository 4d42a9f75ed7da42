"""Server-Sent Events: a lean ASGI response of our own.

sse-starlette runs a task group per connection (a sender, a disconnect listener, a
pinger) and encodes every message per connection; measured here, one event to 10,000
subscribers took 1.9 s at p99 and about 55 KB per connection. This response writes
pre-encoded frames in batches from the request's own task, and a closed client is
unsubscribed at once: under uvicorn, whose request event (swapped for a lighter one,
quorum/realtime/lighten.py) tells of the disconnect as it happens, with no other task; under
another server, the writer is a task of its own while the request's task waits for the
disconnect in ``receive``. No timer: heartbeats come from the hub's single clock. See
docs/realtime.md for the figures.

Most live messages do not even wake the writer: while it is parked with nothing queued,
the hub's fan-out writes the next message (or a heartbeat) as one chunk straight to
uvicorn's transport (``_SSETransport.write_now``), as a raw asyncio server would. Waking
1,000 writers, each through its ``send`` chain (the middleware's wrappers, uvicorn's
``send``), was most of a 1,000-subscriber fan-out's time after the commit.
"""

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable, Sequence
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from quorum.realtime import metrics
from quorum.realtime.abort import abort_of, server_of
from quorum.realtime.lighten import lighten
from quorum.realtime.message import HEARTBEAT, Message, Topic
from quorum.realtime.stream import Streams, StreamSession, WriteNow
from quorum.realtime.subscriber import Subscriber

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
    # When a stream ends (the client fell behind, the server shuts down) the connection
    # ends with it: the client reconnects, rather than the socket idling in keep-alive.
    (b"connection", b"close"),
]


def jittered_retry(retry_ms: int) -> int:
    """The ``retry:`` of one connection: between ``retry_ms`` and twice it, drawn anew
    each time. EventSource waits exactly this long before reconnecting, so after a restart
    its clients come back spread over that window rather than in the same instant."""
    return random.randint(retry_ms, 2 * retry_ms)  # noqa: S311 (jitter, not a secret)


class _SSETransport:
    name = "sse"

    def __init__(self, send: Send, server: Any) -> None:
        self._send = send
        self._server = server

    def direct(self) -> WriteNow | None:
        """``write_now`` if the server is one whose transport it can write to: uvicorn's
        httptools request cycle, once it has started a chunked response (the server's
        ``send`` would frame each write the same way)."""
        return self.write_now if getattr(self._server, "chunked_encoding", None) is True else None

    def write_now(self, message: Message | None) -> bool:
        """Write ``message`` (None: a heartbeat) to the socket from the hub, as one chunk, unless
        the client is gone or has not taken everything written before: then the stream's
        task writes it through ``send``, which waits for the client (flow control), and a
        client that never reads fills its queue and is dropped as before."""
        server = self._server
        transport = server.transport
        if server.disconnected or transport.get_write_buffer_size():
            return False
        body = HEARTBEAT if message is None else message.sse
        transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        return True

    async def write(self, messages: Sequence[Message]) -> None:
        body = messages[0].sse if len(messages) == 1 else b"".join(m.sse for m in messages)
        await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def heartbeat(self) -> None:
        await self._send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})


def _closed_if_gone(server: Any, subscriber: Subscriber) -> None:
    """Close ``subscriber`` if uvicorn's request cycle ``server`` has lost its client."""
    if server.disconnected:
        subscriber.close("disconnected")


class EventStreamResponse(Response):
    def __init__(
        self,
        streams: Streams,
        topic_id: Topic,
        resume_from: int | None,
        audience: str = "",
        *,
        principal: str | None = None,
        session: str | None = None,
    ) -> None:
        super().__init__(status_code=200)
        self.streams = streams
        self.topic_id = topic_id
        self.resume_from = resume_from
        self.audience = audience
        self.principal = principal  # whom the hub's ``evicts`` may name
        self.session = session  # what the hub's ``end_sessions`` may name
        self.background: BackgroundTask | None = None
        self.on_end: Callable[[], None] | None = None  # called once the stream has ended

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gauge = metrics.CONNECTIONS.labels("sse")
        gauge.inc()
        try:
            with StreamSession(
                self.streams,
                self.topic_id,
                abort_of(scope),
                self.audience,
                principal=self.principal,
                session=self.session,
            ) as session:
                await session.admit()  # a refusal raises before the response starts
                server = server_of(scope)
                flag = None if server is None else lighten(server)  # nothing waits on them yet
                if flag is not None:
                    # uvicorn sets the request's event when the client goes away: that
                    # closes the subscriber, so this task can be the writer, with no task
                    # waiting in ``receive`` for the disconnect. A wake-up resumes every
                    # coroutine the task is suspended in: a few, served ahead of the
                    # middleware (quorum/api/front.py); and most live messages wake no
                    # one (``write_now``).
                    sub = session.subscriber
                    flag.on_set = functools.partial(_closed_if_gone, server, sub)
                    try:
                        _closed_if_gone(server, sub)  # gone already, during the admission
                        await self._write(session, send, server)
                    finally:
                        flag.on_set = None
                    return
                # Elsewhere the writer is a task of its own, while this request's task
                # waits for the client to go away.
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._write(session, send, server))
                    # Also http.disconnect once the writer has ended the response.
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    session.subscriber.close("disconnected")  # if nothing closed it before
        finally:
            gauge.dec()
            if self.on_end is not None:
                self.on_end()

    async def _write(self, session: StreamSession, send: Send, server: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            retry = b"retry: %d\n\n" % jittered_retry(self.streams.retry_ms)
            await send({"type": "http.response.body", "body": retry, "more_body": True})
            transport = _SSETransport(send, server)
            await session.run(transport, self.resume_from, transport.direct())
        except OSError:  # the client went away mid-write
            pass
        finally:
            if session.subscriber.close_reason != "disconnected":
                # Ends the response however the stream ended, which ends the request
                # task's wait for the disconnect.
                with contextlib.suppress(OSError, RuntimeError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
