"""The hub: this process's subscribers, by topic, fed in ``seq`` order without gaps.

Messages reach the hub from the broker (the fast path) and from the log (the truth).
Per topic the hub remembers the last ``seq`` it fanned out. The next one is fanned out
at once; an older one is a duplicate and dropped; a newer one means something was
missed (a lost pub/sub message, a commit in another process), so the hub reads the
missing entries from the log before going on, keeping what arrived meanwhile. The same
catch-up runs every ``poll_interval`` for every active topic, which is how a change
committed by another process reaches this one when there is no Redis, and after a
Redis reconnect.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence

import structlog

from quorum.realtime import metrics
from quorum.realtime.message import Message
from quorum.realtime.subscriber import Subscriber

log = structlog.get_logger(__name__)

ReadLog = Callable[[uuid.UUID, int, int], Awaitable[Sequence[Message]]]
LastSeq = Callable[[uuid.UUID], Awaitable[int]]
CATCH_UP_PAGE = 500


class _Topic:
    __slots__ = ("id", "subscribers", "last_seq", "syncing", "pending")

    def __init__(self, topic_id: uuid.UUID) -> None:
        self.id = topic_id
        self.subscribers: set[Subscriber] = set()
        self.last_seq = -1  # unknown until the first sync reads it from the log
        self.syncing = False
        self.pending: list[Message] = []


class Hub:
    def __init__(
        self,
        read_log: ReadLog,
        last_seq: LastSeq,
        *,
        queue_limit: int,
        poll_interval: float,
        heartbeat_interval: float,
    ) -> None:
        self._read_log = read_log
        self._last_seq = last_seq
        self.queue_limit = queue_limit
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self._topics: dict[uuid.UUID, _Topic] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._ending = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._every(self.poll_interval, self.resync_all)),
            asyncio.create_task(self._every(self.heartbeat_interval, self._heartbeat)),
        ]

    async def close(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        self.end_streams()

    def end_streams(self) -> None:
        """Close every subscriber, and every later one at once: the process is going away."""
        self._ending = True
        for topic in self._topics.values():
            for sub in topic.subscribers:
                sub.close("shutdown")

    async def _every(self, interval: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            action()

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, topic_id: uuid.UUID) -> Subscriber:
        topic = self._topics.get(topic_id)
        if topic is None:
            topic = self._topics[topic_id] = _Topic(topic_id)
            self._sync(topic)
        sub = Subscriber(topic_id, self.queue_limit)
        topic.subscribers.add(sub)
        if self._ending:
            sub.close("shutdown")
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        topic = self._topics.get(sub.topic)
        if topic is None:
            return
        topic.subscribers.discard(sub)
        if not topic.subscribers:
            del self._topics[sub.topic]

    def subscriber_count(self) -> int:
        return sum(len(t.subscribers) for t in self._topics.values())

    async def read_log(self, topic_id: uuid.UUID, after: int, limit: int) -> Sequence[Message]:
        return await self._read_log(topic_id, after, limit)

    # -- delivery ----------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """Called for every message the broker hands over, in any order, maybe twice."""
        topic = self._topics.get(message.topic)
        if topic is None:
            return
        if topic.syncing:
            topic.pending.append(message)
        elif message.seq == topic.last_seq + 1:
            self._fan_out(topic, message)
        elif message.seq > topic.last_seq:
            topic.pending.append(message)
            metrics.GAPS.inc()
            self._sync(topic)

    def _fan_out(self, topic: _Topic, message: Message) -> None:
        topic.last_seq = message.seq
        dropped = 0
        for sub in topic.subscribers:
            if not sub.push(message):
                dropped += 1
        if dropped:
            metrics.SLOW_CONSUMERS.inc(dropped)

    def resync_all(self) -> None:
        for topic in list(self._topics.values()):
            self._sync(topic)

    def _heartbeat(self) -> None:
        for topic in self._topics.values():
            for sub in topic.subscribers:
                sub.ping()

    def _sync(self, topic: _Topic) -> None:
        if topic.syncing:
            return
        topic.syncing = True
        task = asyncio.create_task(self._catch_up(topic))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self, topic: _Topic) -> None:
        try:
            if topic.last_seq < 0:
                topic.last_seq = await self._last_seq(topic.id)
            while True:
                page = await self._read_log(topic.id, topic.last_seq, CATCH_UP_PAGE)
                for message in page:
                    if message.seq == topic.last_seq + 1:
                        self._fan_out(topic, message)
                if len(page) < CATCH_UP_PAGE and self._drain_pending(topic):
                    return
        except Exception as exc:  # the database may be away: the next poll tries again
            log.warning("log_catch_up_failed", topic=str(topic.id), error=repr(exc)[:200])
        finally:
            topic.syncing = False

    def _drain_pending(self, topic: _Topic) -> bool:
        """Fan out what arrived during the catch-up; False if a gap remains."""
        pending = sorted(topic.pending, key=lambda m: m.seq)
        topic.pending = []
        for i, message in enumerate(pending):
            if message.seq == topic.last_seq + 1:
                self._fan_out(topic, message)
            elif message.seq > topic.last_seq + 1:
                topic.pending = pending[i:]
                return False
        return True
