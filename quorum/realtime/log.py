"""The event log (transactional outbox): one row per change, written in the change's
transaction, and published to the hub only after that transaction commits.

Each topic (for Quorum, a decision event) numbers its entries with ``seq``. The caller
allocates the numbers by incrementing a counter row of its own in the same transaction
(``UPDATE ... SET last_seq = last_seq + n RETURNING last_seq``). That UPDATE takes a row
lock held until commit, so the transaction that got ``n`` has committed (or rolled back,
freeing ``n`` again) before any other can get ``n + 1``: numbers become visible in
order and without gaps. docs/realtime.md gives the full argument.
"""

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, String, delete, func, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from quorum.db.base import Base, UTCDateTime, utcnow
from quorum.db.uow import after_commit, read_only
from quorum.realtime.message import Message

TYPE_MAX = 64
PUBLISHER = "quorum.realtime.publisher"  # session.info key: where committed entries go
Publisher = Callable[[Sequence[Message]], Awaitable[None]]


class LogEntry(Base):
    __tablename__ = "event_log"

    topic_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(TYPE_MAX))
    data: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def message(self) -> Message:
        return Message.build(
            self.topic_id, self.seq, self.type, self.data, self.created_at.timestamp()
        )


async def append(
    session: AsyncSession,
    topic_id: uuid.UUID,
    last_seq: int,
    entries: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Write ``entries`` as seqs ``last_seq - len(entries) + 1 .. last_seq``, and publish
    them once (and only if) the transaction commits."""
    first = last_seq - len(entries) + 1
    numbered = [(first + i, type_, data) for i, (type_, data) in enumerate(entries)]
    now = utcnow()
    await session.execute(
        insert(LogEntry),
        [
            {"topic_id": topic_id, "seq": seq, "type": type_, "data": data, "created_at": now}
            for seq, type_, data in numbered
        ],
    )
    publisher: Publisher | None = session.info.get(PUBLISHER)
    if publisher is not None:

        async def publish() -> None:
            t = time.time()
            await publisher([Message.build(topic_id, *entry, t, live=True) for entry in numbered])

        after_commit(session, publish)


async def read(
    session: AsyncSession, topic_id: uuid.UUID, after: int, limit: int
) -> Sequence[LogEntry]:
    """Entries with ``seq > after``, oldest first."""
    query = (
        select(LogEntry)
        .where(LogEntry.topic_id == topic_id, LogEntry.seq > after)
        .order_by(LogEntry.seq)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


class LogReader:
    """Short read-only transactions on the log, for the hub and the transports."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def messages(self, topic_id: uuid.UUID, after: int, limit: int) -> list[Message]:
        async with read_only(self._sessionmaker) as session:
            return [entry.message() for entry in await read(session, topic_id, after, limit)]

    async def bounds(self, topic_id: uuid.UUID) -> tuple[int, int] | None:
        """(first, last) retained seq of the topic, or None if it has no entries."""
        async with read_only(self._sessionmaker) as session:
            row = (
                await session.execute(
                    select(func.min(LogEntry.seq), func.max(LogEntry.seq)).where(
                        LogEntry.topic_id == topic_id
                    )
                )
            ).one()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    async def last_seq(self, topic_id: uuid.UUID) -> int:
        found = await self.bounds(topic_id)
        return 0 if found is None else found[1]


async def prune(
    session: AsyncSession, *, keep_last: int | None, max_age_seconds: int | None
) -> int:
    """Apply retention to every topic: keep at most ``keep_last`` entries per topic and
    none older than ``max_age_seconds``, but always each topic's newest entry, so that a
    resuming client can tell "nothing missed" from "too old: take a snapshot"."""
    newer = aliased(LogEntry)
    newest = (
        select(func.max(newer.seq)).where(newer.topic_id == LogEntry.topic_id).scalar_subquery()
    )
    conditions = []
    if keep_last is not None:
        conditions.append(LogEntry.seq <= newest - keep_last)
    if max_age_seconds is not None:
        cutoff = utcnow() - timedelta(seconds=max_age_seconds)
        conditions.append((LogEntry.created_at < cutoff) & (LogEntry.seq < newest))
    removed = 0
    for condition in conditions:
        result = await session.execute(delete(LogEntry).where(condition))
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    return removed
