"""Wiring of the real-time core for one process: log reader, hub, broker, streams.

Every collaborator is passed in: the hub gets the log reader (and the domain's
``evicts``), the broker the hub, the streams the hub, the log reader and the domain's
snapshot. The application hands
``Realtime.publish`` to its unit of work, which calls it with what each transaction
wrote to the log, after the commit.
"""

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.realtime.broker import Broker, MemoryBroker, RedisBroker
from quorum.realtime.hub import Evicts, Hub
from quorum.realtime.log import LogReader
from quorum.realtime.message import Entry, Message, Project, as_is
from quorum.realtime.stream import IsFinal, Snapshot, Streams, never_final
from quorum.settings import Settings


@dataclass
class Realtime:
    hub: Hub
    broker: Broker
    streams: Streams

    async def run(self) -> None:
        """The hub and the broker, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.hub.run())
            tasks.create_task(self.broker.run())

    async def publish(self, entries: Sequence[Entry]) -> None:
        """Committed entries, in ``seq`` order: each becomes a message built once,
        stamped with the commit time, for the broker."""
        t = time.time()
        await self.broker.publish(
            [Message.build(e.topic, e.seq, e.type, e.data, t, live=True) for e in entries]
        )

    async def publish_transient(self, topic: uuid.UUID, type_: str, data: Any) -> None:
        """A message for the topic's current subscribers only, on every instance: not
        logged, so not replayed, and it never moves a client's position (``Message``'s
        ``transient``). For what is stale a moment later, such as progress."""
        await self.broker.publish([Message.build_transient(topic, type_, data, time.time())])


def create_realtime(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    snapshot: Snapshot,
    project: Project = as_is,
    is_final: IsFinal = never_final,
    evicts: Evicts | None = None,
) -> Realtime:
    """``snapshot``, ``project``, ``is_final`` and ``evicts`` are the application's: a
    topic's full state, what each audience of subscribers receives of a message
    (``message.Project``), which message is a topic's last, and whom a message takes the
    topic's streams from."""
    reader = LogReader(sessionmaker)
    hub = Hub(
        reader,
        queue_limit=settings.stream_queue_limit,
        poll_interval=settings.log_poll_interval_seconds,
        heartbeat_interval=settings.heartbeat_interval_seconds,
        project=project,
        evicts=evicts,
    )
    broker: Broker = (
        RedisBroker(hub, settings.redis_url) if settings.redis_url else MemoryBroker(hub)
    )
    return Realtime(hub, broker, Streams(hub, reader, snapshot, settings.sse_retry_ms, is_final))
