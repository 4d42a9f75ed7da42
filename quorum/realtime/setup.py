"""Wiring of the real-time core for one process: log reader, hub, broker, streams.

Every collaborator is passed in: the hub gets the log reader (and the domain's
``evicts``), the broker the hub, the streams the hub, the log reader and the domain's
snapshot. The application hands
``Realtime.publish`` to its unit of work, which calls it with what each transaction
wrote to the log, after the commit.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.realtime.broker import CHANNEL, Broker, MemoryBroker, RedisBroker
from quorum.realtime.hub import Evicts, Hub
from quorum.realtime.log import LOG_TABLE, LogReader
from quorum.realtime.message import Entry, Message, Project, as_is
from quorum.realtime.stream import Admit, IsFinal, Snapshot, Streams, never_final
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

    async def end_sessions(self, sessions: Sequence[str]) -> None:
        """The streams opened under ``sessions`` end, on every instance (call it once the
        sessions' end has committed)."""
        await self.broker.end_sessions(sessions)


def create_realtime(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    snapshot: Snapshot,
    project: Project = as_is,
    is_final: IsFinal = never_final,
    evicts: Evicts | None = None,
    admit: Admit | None = None,
    *,
    log: Table = LOG_TABLE,
    channel: str = CHANNEL,
) -> Realtime:
    """``snapshot``, ``project``, ``is_final``, ``evicts`` and ``admit`` are the
    application's: a topic's full state, what each audience of subscribers receives of a
    message (``message.Project``), which message is a topic's last, whom a message takes
    the topic's streams from, and who may read a topic (``stream.Admit``). Another
    application than Quorum gives its own ``log`` table (``log.log_table``) and its own
    Redis ``channel``."""
    reader = LogReader(sessionmaker, log)
    hub = Hub(
        reader,
        queue_limit=settings.stream_queue_limit,
        poll_interval=settings.log_poll_interval_seconds,
        heartbeat_interval=settings.heartbeat_interval_seconds,
        project=project,
        evicts=evicts,
    )
    broker: Broker = (
        RedisBroker(hub, settings.redis_url, channel=channel)
        if settings.redis_url
        else MemoryBroker(hub)
    )
    streams = Streams(hub, reader, snapshot, settings.sse_retry_ms, is_final, admit)
    return Realtime(hub, broker, streams)
