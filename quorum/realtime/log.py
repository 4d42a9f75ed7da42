"""The event log (transactional outbox): one row per change, written in the change's
transaction.

Each topic (for Quorum, a decision event) numbers its entries with ``seq``. The caller
allocates the numbers by incrementing a counter row of its own in the same transaction
(``UPDATE ... SET last_seq = last_seq + n RETURNING last_seq``). That UPDATE takes a row
lock held until commit, so the transaction that got ``n`` has committed (or rolled back,
freeing ``n`` again) before any other can get ``n + 1``: numbers become visible in
order and without gaps. docs/realtime.md gives the full argument.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, insert, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from quorum.db.base import Base, UTCDateTime, utcnow

TYPE_MAX = 64


class LogEntry(Base):
    __tablename__ = "event_log"

    topic_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(TYPE_MAX))
    data: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


async def append(
    session: AsyncSession,
    topic_id: uuid.UUID,
    last_seq: int,
    entries: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Write ``entries`` as seqs ``last_seq - len(entries) + 1 .. last_seq``."""
    first = last_seq - len(entries) + 1
    now = utcnow()
    await session.execute(
        insert(LogEntry),
        [
            {"topic_id": topic_id, "seq": first + i, "type": type_, "data": data, "created_at": now}
            for i, (type_, data) in enumerate(entries)
        ],
    )


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
