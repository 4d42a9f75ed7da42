"""The event log (transactional outbox): one row per change, written in the change's
transaction, and published to the hub only after that transaction commits.

Each topic (for Quorum, a decision event) numbers its entries with ``seq``, from a
counter row the caller owns and names (``UPDATE ... SET last_seq = last_seq + n
RETURNING last_seq``), incremented in the same transaction. That UPDATE takes a row
lock held until commit, so the transaction that got ``n`` has committed (or rolled back,
freeing ``n`` again) before any other can get ``n + 1``: numbers become visible in
order and without gaps. docs/realtime.md gives the full argument.
"""

import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Row,
    Select,
    String,
    Table,
    Update,
    bindparam,
    delete,
    func,
    insert,
    select,
    union_all,
)
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


LOG_TABLE = cast(Table, LogEntry.__table__)


async def append(
    session: AsyncSession,
    topic_id: uuid.UUID,
    entries: Sequence[tuple[str, dict[str, Any]]],
    counter: Update,
) -> Row[Any] | None:
    """Number ``entries`` with the caller's counter and write them, in this transaction;
    publish them once (and only if) the transaction commits.

    ``counter`` is an ``UPDATE ... SET last_seq = last_seq + :n WHERE <key> = :topic_id
    ... RETURNING last_seq[, ...]`` on the caller's own row (see the module docstring for
    why that row's lock makes the numbering gap-free). Returns the counter's row as the
    UPDATE returned it (``last_seq`` and whatever else the caller asked for: values read
    under the lock, the latest committed), or None if the UPDATE matched no row (the
    caller's condition failed) and nothing was written. On PostgreSQL the UPDATE and the
    INSERT are one statement, so the counter row stays locked one round trip less.
    """
    n = len(entries)
    now = utcnow()
    connection = await session.connection()
    row: Row[Any] | None
    if connection.dialect.name == "postgresql":
        params: dict[str, Any] = {"topic_id": topic_id, "n": n, "now": now}
        for i, (type_, data) in enumerate(entries):
            params |= {f"type{i}": type_, f"data{i}": data}
        row = (await connection.execute(_counted_insert(counter, n), params)).one_or_none()
        if row is None:
            return None
        last_seq = int(row.last_seq)
    else:
        row = (await connection.execute(counter, {"topic_id": topic_id, "n": n})).one_or_none()
        if row is None:
            return None
        last_seq = int(row.last_seq)
        rows = [
            {
                "topic_id": topic_id,
                "seq": last_seq - n + 1 + i,
                "type": t,
                "data": d,
                "created_at": now,
            }
            for i, (t, d) in enumerate(entries)
        ]
        await connection.execute(insert(LOG_TABLE), rows)
    numbered = [(last_seq - n + 1 + i, type_, data) for i, (type_, data) in enumerate(entries)]
    publisher: Publisher | None = session.info.get(PUBLISHER)
    if publisher is not None:

        async def publish() -> None:
            t = time.time()
            await publisher([Message.build(topic_id, *entry, t, live=True) for entry in numbered])

        after_commit(session, publish)
    return row


@functools.cache
def _counted_insert(counter: Update, n: int) -> Select[Any]:
    """``WITH counter AS (<counter>), logged AS (INSERT INTO event_log SELECT ... FROM
    counter) SELECT * FROM counter`` for ``n`` entries, built once per counter and size
    (bind parameters: topic_id, n, now, type<i>, data<i>). The INSERT runs although the
    outer SELECT does not read it: PostgreSQL runs every data-modifying CTE to
    completion."""
    numbers = counter.cte("counter")
    log = LOG_TABLE
    rows = [
        select(
            bindparam("topic_id", type_=log.c.topic_id.type),
            (numbers.c.last_seq - (n - 1 - i)).label("seq"),
            bindparam(f"type{i}", type_=log.c.type.type),
            bindparam(f"data{i}", type_=log.c.data.type),
            bindparam("now", type_=log.c.created_at.type),
        )
        for i in range(n)
    ]
    columns = ["topic_id", "seq", "type", "data", "created_at"]
    source = union_all(*rows) if n > 1 else rows[0]
    logged = insert(log).from_select(columns, source).cte("logged")
    return select(*numbers.c).add_cte(logged)


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
