"""The real-time core as the decisions domain configures it, for every process that
writes decisions' changes: the server (which also serves the streams) and ``quorum
worker`` (whose jobs log outcomes and publish progress). One place, so the two cannot
disagree on how a message is projected, which one ends a stream, or whom it evicts."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.decisions import events, eviction, projection
from quorum.decisions.snapshot import snapshot_reader
from quorum.realtime.setup import Realtime, create_realtime
from quorum.settings import Settings


def create_decisions_realtime(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> Realtime:
    return create_realtime(
        settings,
        sessionmaker,
        snapshot_reader(sessionmaker),
        projection.project,
        is_final=events.is_final,
        evicts=eviction.evicts,
        admit=eviction.admission(sessionmaker),
    )
