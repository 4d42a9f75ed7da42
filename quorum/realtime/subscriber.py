"""A subscriber: one connection's bounded queue of messages.

The hub pushes references to shared ``Message`` objects; the connection's own task takes
them in batches and writes them. A subscriber that lets its queue fill up is closed
rather than allowed to grow memory or slow the publisher, and its connection reset at
once (``abort``): its client resumes from the log with Last-Event-ID.

A subscriber may carry a ``principal``: who the connection acts for (the application
says what it is: a user id). The hub closes the subscribers of a principal that a
message evicts, after queueing that message, which is still written (``drain``). It may
also carry a ``session``: the credential the connection was opened under (a login
session), which ``Hub.end_sessions`` ends wherever it is used.
"""

import asyncio
from collections.abc import Callable

from quorum.realtime.abort import Abort
from quorum.realtime.message import Message, Topic


class Subscriber:
    __slots__ = (
        "topic",
        "audience",
        "principal",
        "session",
        "limit",
        "closed",
        "close_reason",
        "heartbeat",
        "_resume_from",
        "abort",
        "_queue",
        "_waiter",
        "_loop",
        "direct",
    )

    def __init__(
        self,
        topic: Topic,
        limit: int,
        abort: Abort | None = None,
        audience: str = "",
        *,
        principal: str | None = None,
        session: str | None = None,
    ) -> None:
        self.topic = topic
        # Who this connection is, as far as what it may see goes (the application names
        # audiences, for example "admin" and "member"): see ``message.Project``.
        self.audience = audience
        self.principal = principal  # whom the hub's ``evicts`` may name
        self.session = session  # what ``Hub.end_sessions`` may name
        self.limit = limit
        self.closed = False
        self.close_reason = ""
        self.heartbeat = False
        self._resume_from: int | None = None  # the lowest position a client asked to resume from
        # Resets the connection (from a transport that can), called when the subscriber is
        # dropped, as its writer may be stuck in a write the client will never take.
        self.abort = abort
        # A list, not a deque: an idle connection's empty list is 56 bytes, an empty deque
        # over 600 (its first block), and the writer takes the whole list at once anyway.
        self._queue: list[Message] = []
        self._waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the connection's, once it waits
        # Set by the connection's stream: writes a message or a heartbeat at once, from
        # the hub, while the connection's task is parked in ``wait`` (``_write_now``).
        self.direct: Callable[[Message | None], bool] | None = None

    def push(self, message: Message) -> bool:
        """Queue ``message``; False (and the subscriber closed) if the queue was full."""
        if self.closed:
            return True
        if self._write_now(message):
            return True
        if len(self._queue) >= self.limit:
            self.close("slow_consumer")
            if self.abort is not None:
                self.abort()
            return False
        self._queue.append(message)
        self._wake()
        return True

    def ping(self) -> None:
        if not self._write_now(None):
            self.heartbeat = True
            self._wake()

    def _write_now(self, message: Message | None) -> bool:
        """If the connection's task is parked with nothing to do, its ``direct`` writer
        may write ``message`` (None: a heartbeat) at once, saving the task's wake-up and
        its coroutine frames, per subscriber and message. What it declines is queued
        (False) and left to the task as before."""
        waiter = self._waiter
        return (
            waiter is not None
            and self.direct is not None
            and not waiter.done()
            and self.direct(message)
        )

    def request_resume(self, seq: int) -> None:
        """The client says it holds everything up to ``seq``. Requests that arrive before
        the connection's task wakes are one: the lowest, so that one behind what was sent
        is never hidden by a later one."""
        self._resume_from = seq if self._resume_from is None else min(self._resume_from, seq)
        self._wake()

    def take_resume(self) -> int | None:
        """The pending resume request, if any; it is then no longer pending."""
        seq, self._resume_from = self._resume_from, None
        return seq

    def close(self, reason: str, *, drain: bool = False) -> None:
        """Take no more messages. ``drain``: what is queued is still written (the message
        that says why the stream ends); otherwise it is dropped."""
        if not self.closed:
            self.closed = True
            self.close_reason = reason
            if not drain:
                self._queue.clear()
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        return self._loop

    async def wait(self) -> list[Message] | None:
        """The queued messages (an empty list: a heartbeat or a resume request is due), or
        None once closed and drained."""
        while (
            not self._queue and not self.heartbeat and not self.closed and self._resume_from is None
        ):
            # Looked up once: asyncio.get_running_loop() checks the process id, a system
            # call per wake-up of every connection (5 % of a 10,000-subscriber fan-out).
            loop = self._loop or self._bind_loop()
            self._waiter = loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.closed and not self._queue:
            return None
        self.heartbeat = False
        batch, self._queue = self._queue, []
        return batch
