"""Wiring of the real-time core for one process: hub, broker, streams."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.realtime.broker import Broker, MemoryBroker, RedisBroker
from quorum.realtime.hub import Hub
from quorum.realtime.log import PUBLISHER, LogReader
from quorum.realtime.stream import Snapshot, Streams
from quorum.settings import Settings


@dataclass
class Realtime:
    hub: Hub
    broker: Broker
    streams: Streams

    async def start(self) -> None:
        await self.hub.start()
        await self.broker.start()

    async def close(self) -> None:
        await self.hub.close()
        await self.broker.close()


def create_realtime(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], snapshot: Snapshot
) -> Realtime:
    """Build the core and make every unit of work publish its log entries after commit."""
    reader = LogReader(sessionmaker)
    hub = Hub(
        reader.messages,
        reader.last_seq,
        queue_limit=settings.stream_queue_limit,
        poll_interval=settings.log_poll_interval_seconds,
        heartbeat_interval=settings.heartbeat_interval_seconds,
    )
    broker: Broker = (
        RedisBroker(hub, settings.redis_url) if settings.redis_url else MemoryBroker(hub)
    )
    sessionmaker.configure(info={PUBLISHER: broker.publish})
    return Realtime(hub, broker, Streams(hub, reader.bounds, snapshot, settings.sse_retry_ms))
