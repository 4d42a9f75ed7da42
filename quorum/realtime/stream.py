"""One client's stream, whatever the transport: start, then live, without gap or duplicate.

Start: with no position, a ``snapshot`` (the full state, whose ``seq`` says what it
reflects); with a position still covered by the log, every entry after it; with a
position older than the log (or newer than anything written), a fresh snapshot.

Once started, no entry is written twice on one connection: ``sent_seq`` only grows. A
client that asks to resume from behind it (WebSocket ``{"resume_from": N}``) gets a
fresh snapshot, which supersedes its state; from at or ahead of it, nothing changes.

The subscriber is registered with the hub *before* the start is read, so nothing
committed in between can fall through: live messages wait in the queue, and those the
start already covered are skipped by ``seq``. If the queue ever shows a gap, the
missing entries are read from the log before going on.
"""

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from quorum.realtime import metrics
from quorum.realtime.hub import Hub
from quorum.realtime.message import Message
from quorum.realtime.subscriber import Subscriber

REPLAY_PAGE = 500
Snapshot = Callable[[uuid.UUID], Awaitable[Message]]


class Bounds(Protocol):
    async def __call__(self, topic_id: uuid.UUID) -> tuple[int, int] | None: ...


class Transport(Protocol):
    name: str

    async def write(self, messages: Sequence[Message]) -> None: ...
    async def heartbeat(self) -> None: ...


@dataclass(frozen=True)
class Streams:
    """What a stream needs from the process: the hub, the log's bounds, and the
    domain's snapshot of a topic (registered by the application, not imported)."""

    hub: Hub
    bounds: Bounds
    snapshot: Snapshot
    retry_ms: int

    def open(self, topic_id: uuid.UUID) -> "StreamSession":
        return StreamSession(self.hub, self.bounds, self.snapshot, topic_id)


class StreamSession:
    """Registers its subscriber at once: open it only where it will be run (and so
    unsubscribed)."""

    def __init__(self, hub: Hub, bounds: Bounds, snapshot: Snapshot, topic_id: uuid.UUID) -> None:
        self.hub = hub
        self.bounds = bounds
        self.snapshot = snapshot
        self.topic_id = topic_id
        self.subscriber: Subscriber = hub.subscribe(topic_id)

    async def run(self, transport: Transport, resume_from: int | None) -> str:
        """Stream until the subscriber closes; returns why it closed."""
        sub = self.subscriber
        delivered = metrics.DELIVERED.labels(transport.name)
        try:
            await self._start(transport, resume_from)
            while (batch := await sub.wait()) is not None:
                if sub.resume_from is not None:
                    behind, sub.resume_from = sub.resume_from < sub.sent_seq, None
                    if behind:  # the client lost track: a snapshot supersedes, never a repeat
                        await self._snapshot(transport)
                fresh = await self._in_order(transport, batch)
                if fresh:
                    await transport.write(fresh)
                    delivered.inc(len(fresh))
                    if fresh[0].committed_at:
                        metrics.COMMIT_TO_SEND.observe(time.time() - fresh[0].committed_at)
                elif not batch:
                    await transport.heartbeat()
            return sub.close_reason
        finally:
            self.hub.unsubscribe(sub)

    async def _start(self, transport: Transport, resume_from: int | None) -> None:
        bounds = await self.bounds(self.topic_id) if resume_from is not None else None
        if resume_from is not None and _covered(resume_from, bounds):
            self.subscriber.sent_seq = resume_from
            await self._replay(transport)
        else:
            await self._snapshot(transport)

    async def _snapshot(self, transport: Transport) -> None:
        """The full state; then only entries after both it and anything sent before it."""
        snapshot = await self.snapshot(self.topic_id)
        # A snapshot reflects every committed entry, so it is never behind what was sent;
        # max() keeps ``sent_seq`` from going back (an entry sent twice) whatever happens.
        self.subscriber.sent_seq = max(self.subscriber.sent_seq, snapshot.seq)
        await transport.write([snapshot])

    async def _replay(self, transport: Transport) -> None:
        while True:
            page = await self.hub.read_log(self.topic_id, self.subscriber.sent_seq, REPLAY_PAGE)
            if page:
                await transport.write(page)
                self.subscriber.sent_seq = page[-1].seq
            if len(page) < REPLAY_PAGE:
                return

    async def _in_order(self, transport: Transport, batch: list[Message]) -> list[Message]:
        """The messages of ``batch`` not yet sent, after filling any gap from the log."""
        sub = self.subscriber
        fresh: list[Message] = []
        for message in batch:
            if message.seq <= sub.sent_seq:
                continue
            if message.seq > sub.sent_seq + 1:
                if fresh:
                    await transport.write(fresh)
                    fresh = []
                await self._replay(transport)
                if message.seq <= sub.sent_seq:
                    continue
            fresh.append(message)
            sub.sent_seq = message.seq
        return fresh


def _covered(resume_from: int, bounds: tuple[int, int] | None) -> bool:
    """Can the log alone bring a client at ``resume_from`` up to date?"""
    if bounds is None:
        return resume_from == 0
    first, last = bounds
    return first - 1 <= resume_from <= last
