"""Fakes for the real-time core's in-process tests: an in-memory log (what the hub and
the streams are given instead of the database), a transport that records what it is
asked to write, and small helpers to run a hub and to wait for the event loop."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from quorum.realtime.hub import Evicts, Hub
from quorum.realtime.log import covers
from quorum.realtime.message import Message
from quorum.realtime.stream import Streams
from quorum.realtime.subscriber import Subscriber

TOPIC = uuid.UUID("00000000-0000-0000-0000-000000000001")
OTHER = uuid.UUID("00000000-0000-0000-0000-000000000002")


def msg(seq: int, topic: uuid.UUID = TOPIC, type_: str = "comment.created") -> Message:
    return Message.build(topic, seq, type_, {"n": seq}, 1.0)


class FakeLog:
    """Entries by topic. A read sees the log as it is when it begins; ``gate``, once
    cleared, holds its answer until it is set again; ``fail`` makes the next reads
    raise. Every read is recorded in ``reads``."""

    def __init__(self) -> None:
        self.entries: dict[uuid.UUID, list[Message]] = {}
        self.reads: list[tuple[str, uuid.UUID, int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = 0

    def write(self, *seqs: int, topic: uuid.UUID = TOPIC) -> None:
        self.entries.setdefault(topic, []).extend(msg(seq, topic) for seq in seqs)

    def prune_below(self, seq: int, topic: uuid.UUID = TOPIC) -> None:
        self.entries[topic] = [m for m in self.entries[topic] if m.seq >= seq]

    async def _read(self, what: str, topic_id: uuid.UUID, after: int) -> None:
        """Recorded at once; answered once the gate is open."""
        self.reads.append((what, topic_id, after))
        await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise OSError("the database is away")

    async def messages(self, topic_id: uuid.UUID, after: int, limit: int) -> Sequence[Message]:
        found = [m for m in self.entries.get(topic_id, []) if m.seq > after][:limit]
        await self._read("messages", topic_id, after)
        return found  # as the log was when the read began

    async def bounds(self, topic_id: uuid.UUID) -> tuple[int, int] | None:
        found = self.entries.get(topic_id)
        bounds = (found[0].seq, found[-1].seq) if found else None
        await self._read("bounds", topic_id, 0)
        return bounds

    async def resume(self, topic_id: uuid.UUID, after: int, limit: int) -> Sequence[Message] | None:
        """Recorded as the bounds read and, if they cover ``after``, the page read that it
        stands for."""
        found = self.entries.get(topic_id, [])
        bounds = (found[0].seq, found[-1].seq) if found else None
        page = [m for m in found if m.seq > after][:limit]
        await self._read("bounds", topic_id, 0)
        if not covers(bounds, after):
            return None
        self.reads.append(("messages", topic_id, after))
        return page  # as the log was when the read began

    def message_reads(self) -> list[int]:
        """The ``after`` of every page read so far."""
        return [after for what, _, after in self.reads if what == "messages"]


class FakeTransport:
    name = "fake"

    def __init__(self) -> None:
        self.writes: list[list[Message]] = []
        self.heartbeats = 0

    async def write(self, messages: Sequence[Message]) -> None:
        self.writes.append(list(messages))

    async def heartbeat(self) -> None:
        self.heartbeats += 1

    def seqs(self) -> list[int]:
        return [m.seq for batch in self.writes for m in batch]

    def types(self) -> list[str]:
        return [m.type for batch in self.writes for m in batch]


def make_hub(
    log: FakeLog,
    *,
    queue_limit: int = 100,
    poll: float = 3600,
    heartbeat: float = 3600,
    evicts: Evicts | None = None,
) -> Hub:
    return Hub(
        log,
        queue_limit=queue_limit,
        poll_interval=poll,
        heartbeat_interval=heartbeat,
        evicts=evicts,
    )


def make_streams(hub: Hub, log: FakeLog, snapshots: list[int] | None = None) -> Streams:
    """Streams whose snapshot reflects the log's last entry (each one's seq is recorded in
    ``snapshots``)."""

    async def snapshot(topic_id: uuid.UUID) -> Message:
        found = log.entries.get(topic_id)
        seq = found[-1].seq if found else 0
        if snapshots is not None:
            snapshots.append(seq)
        return Message.build(topic_id, seq, "snapshot", {"state": seq}, 1.0)

    return Streams(hub, log, snapshot, retry_ms=1000)


async def drain(sub: Subscriber) -> list[int] | None:
    """The seqs queued for ``sub`` (None once it is closed), without blocking: a ping
    makes ``wait()`` return at once with whatever is queued."""
    sub.ping()
    batch = await sub.wait()
    return None if batch is None else [m.seq for m in batch]


async def until(condition: Callable[[], bool], steps: int = 200) -> None:
    """Let the event loop run until ``condition`` holds (fakes never wait on I/O, so a
    few turns of the loop are enough)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


async def turns(n: int = 20) -> None:
    """Let the event loop run ``n`` times: to show that something does *not* happen."""
    for _ in range(n):
        await asyncio.sleep(0)


@asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[Hub]:
    """``hub.run()`` for the duration of the block."""
    async with asyncio.TaskGroup() as tasks:
        task = tasks.create_task(hub.run())
        await turns(2)
        try:
            yield hub
        finally:
            task.cancel()
