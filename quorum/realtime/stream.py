"""One client's stream, whatever the transport: start, then live, without gap or duplicate.

Start: with no position, a ``snapshot`` (the full state, whose ``seq`` says what it
reflects); with a position still covered by the log, every entry after it; with a
position older than the log (or newer than anything written), a fresh snapshot.

Once started, no entry is written twice on one connection: ``StreamSession.sent_seq``,
the one record of how far the connection has got, only grows. A client that asks to
resume from behind it (WebSocket ``{"resume_from": N}``) gets a fresh snapshot, which
supersedes its state; from at or ahead of it, nothing changes.

The subscriber is registered with the hub *before* the start is read, so nothing
committed in between can fall through: live messages wait in the queue, and those the
start already covered are skipped by ``seq``. If the queue ever shows a gap, the
missing entries are read from the log before going on.

Access is the application's to grant (``Streams.admit``), and the transport asks it
(``StreamSession.admit``) before its response starts, so that a refusal is the
response: once the subscriber is registered and the hub knows where the topic's log
stands (``Hub.ready``), so a loss of access committed before the answer is seen by it
(the stream is refused), and one committed after it is fanned out to the subscriber
after it, as a message the hub's ``evicts`` names (or a session's end): either way the
stream does not stay open. The answer is also the subscriber's audience: until then it
is the one it subscribed with, which should see the least (only a transient message can
reach it meanwhile: a logged one is covered by the start, read after the answer). The
session applies ``evicts`` to what it reads from the log itself as well.
"""

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

from quorum.db.errors import is_timeout, is_unavailable
from quorum.realtime import metrics
from quorum.realtime.abort import Abort
from quorum.realtime.hub import ACCESS_REVOKED, Hub, LogSource
from quorum.realtime.message import Message, Topic

REPLAY_PAGE = 500
# Called with a topic of the application's one kind (a UUID, or an int): typed Any so that
# a function of either kind fits (a Callable's parameter cannot be narrowed).
Snapshot = Callable[[Any], Awaitable[Message]]
IsFinal = Callable[[Message], bool]
Admit = Callable[[Any, str | None, str | None], Awaitable[str]]
"""The audience a stream of (topic, principal, session) is for; raises the application's
refusal if it may not start. Asked once subscribed: see the module's docstring."""
TOPIC_ENDED = "topic_ended"  # the close reason after a final message
# The close reason when the database could not be read for the stream (its start, a hole
# in its queue, a snapshot): a client resumes later from where it got to.
DATABASE_UNAVAILABLE = "database_unavailable"
log = structlog.get_logger(__name__)
WriteNow = Callable[[Message | None], bool]
"""A transport's synchronous write of a message (None: a heartbeat): True if written,
False if the transport cannot take it without waiting (the stream's task then does)."""


def never_final(message: Message) -> bool:
    return False


class Transport(Protocol):
    name: str

    async def write(self, messages: Sequence[Message]) -> None: ...
    async def heartbeat(self) -> None: ...


@dataclass(frozen=True)
class Streams:
    """What a stream needs from the process: the hub, the log, and the domain's snapshot
    of a topic (registered by the application, not imported). ``is_final`` says which
    message is a topic's last (the application's to say: for Quorum, a deleted event):
    a stream sends it, then ends with the close reason ``topic_ended``. ``admit`` (the
    application's too) says whether a principal, under a session, may read the topic,
    and as which audience: see the module's docstring."""

    hub: Hub
    log: LogSource
    snapshot: Snapshot
    retry_ms: int
    is_final: IsFinal = never_final
    admit: Admit | None = None


class StreamSession:
    """One connection's position and subscription. The subscriber is registered with the
    hub at once; use the session as a ``with`` block, which removes it however the
    stream ends."""

    _now: tuple[WriteNow, Counter]  # set by ``run``: the transport's write_now, its counter

    def __init__(
        self,
        streams: Streams,
        topic_id: Topic,
        abort: Abort | None = None,
        audience: str = "",
        *,
        principal: str | None = None,
        session: str | None = None,
    ) -> None:
        self._streams = streams
        self.topic_id = topic_id
        self.audience = audience
        self._project = streams.hub.project
        self.subscriber = streams.hub.subscribe(
            topic_id, abort, audience, principal=principal, session=session
        )
        self.sent_seq = 0  # highest seq written to the client: anything at or below is skipped
        self.ended = False  # a final message was written: nothing can follow it
        self.end_reason = TOPIC_ENDED  # why, then: the topic ended, or access was lost
        self.admitted = False  # ``admit`` has answered (the route's, or the run's own ask)

    def __enter__(self) -> "StreamSession":
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._streams.hub.unsubscribe(self.subscriber)
        self.subscriber.direct = None  # a cycle through this session otherwise

    async def admit(self) -> None:
        """Ask ``Streams.admit``, which raises its refusal; call it before the transport's
        response starts, so that the refusal can be the response."""
        admit, sub = self._streams.admit, self.subscriber
        await self._streams.hub.ready(self.topic_id)
        if admit is not None:
            self.audience = sub.audience = await admit(self.topic_id, sub.principal, sub.session)
        self.admitted = True

    async def run(
        self, transport: Transport, resume_from: int | None, write_now: WriteNow | None = None
    ) -> str:
        """Stream until the subscriber closes; returns why it closed. ``write_now``: the
        transport's synchronous write, if it has one (see ``_write_now``). One coroutine
        for the whole stream: an idle stream stays suspended in it, and each frame of a
        suspended coroutine is memory of every idle connection."""
        if not self.admitted:
            await self.admit()
        sub = self.subscriber
        delivered = metrics.DELIVERED.labels(transport.name)
        try:
            await self._start(transport, resume_from)
            if write_now is not None:
                self._now = (write_now, delivered)
                sub.direct = self._write_now
            while not self.ended and (batch := await sub.wait()) is not None:
                resume = sub.take_resume()
                if resume is not None and resume < self.sent_seq:
                    await self._snapshot(transport)  # the client lost track: it supersedes
                fresh = await self._in_order(transport, batch)
                if fresh:
                    await transport.write(fresh)
                    delivered.inc(len(fresh))
                    if fresh[0].committed_at:
                        metrics.COMMIT_TO_SEND.observe(time.time() - fresh[0].committed_at)
                elif not batch:
                    await transport.heartbeat()
        except Exception as exc:
            # Reads of the log and snapshots happen after the response started: the
            # stream can only end, and the client resumes from where it got to.
            if not (is_unavailable(exc) or is_timeout(exc)):
                raise
            log.warning("stream_ended", reason=DATABASE_UNAVAILABLE, error=type(exc).__name__)
            sub.close(DATABASE_UNAVAILABLE)
        if self.ended:
            sub.close(self.end_reason)
        return sub.close_reason

    def _write_now(self, message: Message | None) -> bool:
        """The subscriber's ``direct`` writer, called by the hub while this stream's task
        is parked waiting for its queue: write ``message`` (None: a heartbeat) at once if
        it is the next one and neither ends the stream nor finds the transport busy;
        False leaves it to the queue and the task, which handle every other case (a
        gap, a final message, a client that does not keep up) as they always do."""
        if message is None:
            return self._now[0](None)
        if not message.transient:
            if message.seq <= self.sent_seq:
                return True  # sent already: the task would skip it too
            if message.seq != self.sent_seq + 1 or self._last(message) is not None:
                return False
        write_now, delivered = self._now
        if not write_now(message):
            return False
        if not message.transient:
            self.sent_seq = message.seq
        delivered.inc()
        if message.committed_at:
            metrics.COMMIT_TO_SEND.observe(time.time() - message.committed_at)
        return True

    async def _start(self, transport: Transport, resume_from: int | None) -> None:
        """Read the start (after ``admit``, which waited for ``Hub.ready``), then write it."""
        if resume_from is not None:
            page = await self._streams.log.resume(self.topic_id, resume_from, REPLAY_PAGE)
            if page is not None:
                self.sent_seq = resume_from
                await self._replay(transport, page)
                return
        await self._snapshot(transport)

    async def _snapshot(self, transport: Transport) -> None:
        """The full state; then only entries after both it and anything sent before it."""
        snapshot = await self._streams.snapshot(self.topic_id)
        # A snapshot reflects every committed entry, so it is never behind what was sent;
        # max() keeps ``sent_seq`` from going back (an entry sent twice) whatever happens.
        self.sent_seq = max(self.sent_seq, snapshot.seq)
        await self._write(transport, [snapshot])

    async def _write(self, transport: Transport, messages: Sequence[Message]) -> None:
        """Write what the audience receives of ``messages`` read here, not through the
        hub (the snapshot, the log's entries): the hub's fan-out projected the rest."""
        mine = [m for m in (self._project(message, self.audience) for message in messages) if m]
        if mine:
            await transport.write(mine)

    async def _replay(self, transport: Transport, first: Sequence[Message] | None = None) -> None:
        """Every entry after ``sent_seq`` from the log (``first``: its first page, read)."""
        while True:
            if first is None:
                page = await self._streams.log.messages(self.topic_id, self.sent_seq, REPLAY_PAGE)
            else:
                page, first = first, None
            page = self._up_to_final(page)
            if page:
                await self._write(transport, page)
                self.sent_seq = page[-1].seq
            if len(page) < REPLAY_PAGE or self.ended:
                return

    def _up_to_final(self, messages: Sequence[Message]) -> list[Message]:
        """``messages`` up to and including a final one (then the stream has ended)."""
        for i, message in enumerate(messages):
            if self._ends_here(message):
                return list(messages[: i + 1])
        return list(messages)

    def _ends_here(self, message: Message) -> bool:
        """Is ``message`` this stream's last? If so the stream has ended, for that reason."""
        reason = self._last(message)
        if reason is None:
            return False
        self.ended, self.end_reason = True, reason
        return True

    def _last(self, message: Message) -> str | None:
        """Why ``message`` is this stream's last: the topic's final one, or one that
        evicts its principal (the hub evicts on fan-out; a replay from the log comes
        here); None if it is not."""
        if self._streams.is_final(message):
            return TOPIC_ENDED
        evicts, principal = self._streams.hub.evicts, self.subscriber.principal
        if evicts is not None and principal is not None:
            evicted = evicts(message)
            if evicted and principal in evicted:
                return ACCESS_REVOKED
        return None

    async def _in_order(self, transport: Transport, batch: list[Message]) -> list[Message]:
        """The messages of ``batch`` not yet sent, after filling any gap from the log."""
        fresh: list[Message] = []
        for message in batch:
            if message.transient:  # outside the log's order: written as it comes
                fresh.append(message)
                continue
            if message.seq <= self.sent_seq:
                continue
            if message.seq > self.sent_seq + 1:
                if fresh:
                    await transport.write(fresh)
                    fresh = []
                await self._replay(transport)
                if self.ended:
                    return fresh  # the replay wrote the final message: nothing after it
                if message.seq <= self.sent_seq:
                    continue
            fresh.append(message)
            self.sent_seq = message.seq
            if self._ends_here(message):
                break
        return fresh
