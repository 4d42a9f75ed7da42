"""The hub: this process's subscribers, by topic, fed in ``seq`` order without gaps.

Messages reach the hub from the broker (the fast path) and from the log (the truth),
which the hub is given as a ``LogSource``. Per topic the hub remembers the last ``seq``
it fanned out. The next one is fanned out at once; an older one is a duplicate and
dropped; a newer one means something was missed (a lost pub/sub message, a commit in
another process), so the hub reads the missing entries from the log before going on,
keeping what arrived meanwhile. The same catch-up runs every ``poll_interval`` for every
active topic, which is how a change committed by another process reaches this one when
there is no Redis, and after a Redis reconnect.

Losing access ends a stream at once, on every instance: the application gives the hub
an ``evicts(message)`` function naming the principals a message evicts (or None), and
the fan-out, having queued the message to every subscriber (so the evicted learn why),
closes those principals' subscribers with the reason ``access_revoked``. Every
instance's hub fans out every message of its topics (from the broker or the log), so
each evicts its own subscribers.

A credential that ends (a login session: logged out, revoked) ends the streams opened
under it: ``end_sessions`` closes the subscribers carrying one of those sessions with
the reason ``session_ended``. It is not a message of any topic; the broker carries it to
every instance's hub (quorum/realtime/broker.py).

A topic's first subscriber on this instance makes the hub read where the topic's log
stands (its first catch-up); only entries after that are fanned out. ``ready()`` waits
for it, so that a stream reads its start after it and misses nothing live.

``run()`` holds the hub's tasks (its two clocks and every catch-up) in one task group,
until it is cancelled.
"""

import asyncio
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

import structlog

from quorum.realtime import metrics
from quorum.realtime.abort import Abort
from quorum.realtime.message import Message, Project, Topic, as_is
from quorum.realtime.subscriber import Subscriber

log = structlog.get_logger(__name__)
CATCH_UP_PAGE = 500
READY_WITHIN = 5.0  # seconds a new stream waits for its topic's first catch-up at most
ACCESS_REVOKED = "access_revoked"
SESSION_ENDED = "session_ended"

Evicts = Callable[[Message], frozenset[str] | None]
"""The principals a message evicts from its topic, or None (most messages)."""


class LogSource(Protocol):
    """What the hub and the streams read from the log (``realtime.log.LogReader``)."""

    async def messages(self, topic_id: Topic, after: int, limit: int) -> Sequence[Message]:
        """Entries with ``seq > after``, oldest first, at most ``limit``."""

    async def bounds(self, topic_id: Topic) -> tuple[int, int] | None:
        """(first, last) retained ``seq`` of the topic, or None if it has none."""

    async def resume(self, topic_id: Topic, after: int, limit: int) -> Sequence[Message] | None:
        """``messages(topic_id, after, limit)``, or None if the log no longer (or not yet)
        holds the position ``after``: the start of a stream that resumes."""


class _Topic:
    __slots__ = ("id", "subscribers", "last_seq", "known", "syncing", "pending")

    def __init__(self, topic_id: Topic) -> None:
        self.id = topic_id
        self.subscribers: set[Subscriber] = set()
        self.last_seq = -1  # unknown until the first sync reads it from the log
        self.known = asyncio.Event()  # set once ``last_seq`` is known
        self.syncing = False
        self.pending: list[Message] = []


class Hub:
    def __init__(
        self,
        log: LogSource,
        *,
        queue_limit: int,
        poll_interval: float,
        heartbeat_interval: float,
        project: Project = as_is,
        evicts: Evicts | None = None,
    ) -> None:
        self._log = log
        self.project = project  # what each audience receives of a message (streams use it too)
        self.evicts = evicts  # whom a message evicts (streams apply it to what they replay)
        self._queue_limit = queue_limit
        self._poll_interval = poll_interval
        self._heartbeat_interval = heartbeat_interval
        self._topics: dict[Topic, _Topic] = {}
        self._tasks: asyncio.TaskGroup | None = None  # while running: where catch-ups go
        self._ending = False

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled: the heartbeat and poll clocks, and every catch-up they or a
        gap start. Then every stream is ended."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            try:
                tasks.create_task(self._every(self._heartbeat_interval, self._heartbeat))
                self.resync_all()  # topics subscribed before the hub ran
                await self._every(self._poll_interval, self.resync_all)
            finally:
                self._tasks = None  # the group is shutting down: it takes no new task
                self.end_streams()

    def end_streams(self) -> None:
        """Close every subscriber, and every later one at once: the process is going away."""
        self._ending = True
        for topic in self._topics.values():
            topic.known.set()  # a stream still starting waits no longer (``ready``)
            for sub in topic.subscribers:
                sub.close("shutdown")

    async def _every(self, interval: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval)
            action()

    # -- subscribers -------------------------------------------------------------------

    def subscribe(
        self,
        topic_id: Topic,
        abort: Abort | None = None,
        audience: str = "",
        *,
        principal: str | None = None,
        session: str | None = None,
    ) -> Subscriber:
        """A new subscriber to ``topic_id``, receiving what ``project`` makes of each
        message for ``audience``; ``abort`` resets its connection if it is dropped as a
        slow consumer; ``principal`` is whom ``evicts`` may name, ``session`` what
        ``end_sessions`` may."""
        topic = self._topics.get(topic_id)
        if topic is None:
            topic = self._topics[topic_id] = _Topic(topic_id)
            self._sync(topic)
        sub = Subscriber(
            topic_id, self._queue_limit, abort, audience, principal=principal, session=session
        )
        topic.subscribers.add(sub)
        if self._ending:
            sub.close("shutdown")
        return sub

    async def ready(self, topic_id: Topic) -> None:
        """Wait (``READY_WITHIN`` at most) until the hub knows where ``topic_id``'s log
        stands: from then on every later entry is fanned out to its subscribers. A start
        read before it could be older than that position, and the entries in between
        would reach the stream only with the next live one. Returns at once for a known
        topic, and when the hub does not run (nothing is fanned out then anyway)."""
        topic = self._topics.get(topic_id)
        if topic is None or topic.known.is_set() or self._tasks is None:
            return
        try:
            async with asyncio.timeout(READY_WITHIN):
                await topic.known.wait()
        except TimeoutError:  # the log is unreachable: the start's own read will say so
            return

    def end_sessions(self, sessions: Collection[str]) -> None:
        """Close every subscriber opened under one of ``sessions`` (reason
        ``session_ended``), whatever its topic: the credential is gone."""
        if not sessions:
            return
        for topic in self._topics.values():
            for sub in topic.subscribers:
                if sub.session is not None and sub.session in sessions:
                    sub.close(SESSION_ENDED)

    def unsubscribe(self, sub: Subscriber) -> None:
        topic = self._topics.get(sub.topic)
        if topic is None:
            return
        topic.subscribers.discard(sub)
        if not topic.subscribers:
            del self._topics[sub.topic]

    # -- delivery ----------------------------------------------------------------------

    def deliver(self, message: Message) -> None:
        """Called for every message the broker hands over, in any order, maybe twice."""
        topic = self._topics.get(message.topic)
        if topic is None:
            return
        if message.transient:
            self._fan_out_transient(topic, message)
        elif topic.syncing:
            topic.pending.append(message)
        elif message.seq == topic.last_seq + 1:
            self._fan_out(topic, message)
        elif message.seq > topic.last_seq:
            topic.pending.append(message)
            metrics.GAPS.inc()
            self._sync(topic)

    def _fan_out(self, topic: _Topic, message: Message) -> None:
        """Each subscriber gets its audience's projection of ``message``, built once per
        audience present (None: that audience is not sent it)."""
        topic.last_seq = message.seq
        dropped = 0
        projected: dict[str, Message | None] = {}
        for sub in topic.subscribers:
            audience = sub.audience
            if audience in projected:
                mine = projected[audience]
            else:
                mine = projected[audience] = self.project(message, audience)
            if mine is not None and not sub.push(mine):
                dropped += 1
        if dropped:
            metrics.SLOW_CONSUMERS.inc(dropped)
        if self.evicts is not None:
            self._evict(topic, self.evicts(message))

    def _fan_out_transient(self, topic: _Topic, message: Message) -> None:
        """A transient message goes to whoever is subscribed now, outside the ``seq``
        order: it is not in the log, so there is nothing to wait for or catch up."""
        projected: dict[str, Message | None] = {}
        for sub in topic.subscribers:
            if sub.audience not in projected:
                projected[sub.audience] = self.project(message, sub.audience)
            mine = projected[sub.audience]
            if mine is not None:
                sub.push(mine)

    def _evict(self, topic: _Topic, evicted: frozenset[str] | None) -> None:
        """Close the subscribers of the ``evicted`` principals; the message that evicts
        them, queued to them already, is still written before their streams end."""
        if not evicted:
            return
        for sub in topic.subscribers:
            if sub.principal is not None and sub.principal in evicted:
                sub.close(ACCESS_REVOKED, drain=True)

    def resync_all(self) -> None:
        for topic in list(self._topics.values()):
            self._sync(topic)

    def _heartbeat(self) -> None:
        for topic in self._topics.values():
            for sub in topic.subscribers:
                sub.ping()

    def _sync(self, topic: _Topic) -> None:
        """Start a catch-up of ``topic`` from the log, unless one runs already or the hub
        does not run (``run()`` catches up every topic when it starts)."""
        if topic.syncing or self._tasks is None:
            return
        topic.syncing = True
        self._tasks.create_task(self._catch_up(topic))

    async def _catch_up(self, topic: _Topic) -> None:
        try:
            if topic.last_seq < 0:
                bounds = await self._log.bounds(topic.id)
                topic.last_seq = 0 if bounds is None else bounds[1]
                topic.known.set()
            while True:
                page = await self._log.messages(topic.id, topic.last_seq, CATCH_UP_PAGE)
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
