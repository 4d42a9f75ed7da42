"""The event log (transactional outbox): one row per change, written in the change's
transaction, and published only after that transaction commits.

Each topic (for Quorum, a decision event) numbers its entries with ``seq``, from a
counter on a row the caller owns and describes (``Counter``): this module runs
``UPDATE <table> SET <seq> = <seq> + n WHERE <key> = topic [AND <guard>] RETURNING
<seq>, ...`` in the same transaction. That UPDATE takes a row lock held until commit, so
the transaction that got ``n`` has committed (or rolled back, freeing ``n`` again)
before any other can get ``n + 1``: numbers become visible in order and without gaps.
docs/realtime.md gives the full argument.
"""

import functools
import uuid
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.types import TypeEngine

from quorum.db.base import Base, UTCDateTime, utcnow
from quorum.db.batch import Batcher
from quorum.db.uow import read_only, stage
from quorum.realtime.message import Entry, Message, Topic

TYPE_MAX = 64


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


def log_table(metadata: MetaData, name: str, topic_type: TypeEngine[Any]) -> Table:
    """A log table of another application, in its own ``metadata`` (and migrations),
    with the columns of Quorum's ``event_log``; ``topic_type``: its topic keys' column
    type (``BigInteger`` for integer topics). Give it to the ``Counter`` that numbers
    its entries and to ``create_realtime``."""
    return Table(
        name,
        metadata,
        Column("topic_id", topic_type, primary_key=True),
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("type", String(TYPE_MAX), nullable=False),
        Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )


@dataclass(frozen=True, eq=False)  # compared (and cached) by identity: columns overload ==
class Counter:
    """Where a topic's entries get their numbers: the row of ``table`` whose ``key`` is
    the topic, its ``seq`` column holding the last number given. With a ``guard``, only
    while the guard holds (else nothing is written). ``returning``: more columns of the
    row to read under its lock, returned after the new ``seq``. ``log``: the table the
    entries go to (Quorum's ``event_log``, or one made by ``log_table``)."""

    table: Table
    key: Column[Any]
    seq: Column[Any]
    guard: ColumnElement[bool] | None = None
    returning: tuple[Column[Any], ...] = ()
    log: Table = LOG_TABLE

    def __post_init__(self) -> None:
        if any(c.table is not self.table for c in (self.key, self.seq, *self.returning)):
            raise ValueError("a Counter's columns must belong to its table")


async def append(
    session: AsyncSession,
    topic_id: Topic,
    entries: Sequence[tuple[str, dict[str, Any]]],
    counter: Counter,
) -> Row[Any] | None:
    """Number ``entries`` with ``counter`` and write them, in this transaction, and stage
    them on it (``quorum.db.uow.stage``): they are published once, and only if, it
    commits.

    Returns the counter's row as the UPDATE left it: the new last ``seq``, then the
    ``returning`` columns (values read under the row's lock: the latest committed). None
    if no row matched (no such topic, or the guard failed): then nothing was written.
    On PostgreSQL the UPDATE and the INSERT are one statement, so the counter row stays
    locked one round trip less.
    """
    n = len(entries)
    now = utcnow()
    connection = await session.connection()
    postgresql = connection.dialect.name == "postgresql"
    params: dict[str, Any] = {"topic": topic_id, "n": n}
    if postgresql:
        params["now"] = now
        for i, (type_, data) in enumerate(entries):
            params |= {f"type{i}": type_, f"data{i}": data}
    statement = _counted_insert(counter, n) if postgresql else _count(counter)
    row = (await connection.execute(statement, params)).one_or_none()
    if row is None:
        return None
    first = int(row[0]) - n + 1
    numbered = [Entry(topic_id, first + i, t, d) for i, (t, d) in enumerate(entries)]
    if not postgresql:
        rows = [
            {"topic_id": topic_id, "seq": e.seq, "type": e.type, "data": e.data, "created_at": now}
            for e in numbered
        ]
        await connection.execute(insert(counter.log), rows)
    stage(session, numbered)
    return row


@functools.cache
def _count(counter: Counter) -> Update:
    """The counter's UPDATE (bind parameters: topic, n), built once per counter."""
    statement = (
        update(counter.table)
        .where(counter.key == bindparam("topic"))
        .values({counter.seq: counter.seq + bindparam("n")})
        .returning(counter.seq, *counter.returning)
    )
    return statement if counter.guard is None else statement.where(counter.guard)


@functools.cache
def _counted_insert(counter: Counter, n: int) -> Select[Any]:
    """``WITH counter AS (<UPDATE>), logged AS (INSERT INTO event_log SELECT ... FROM
    counter) SELECT * FROM counter`` for ``n`` entries, built once per counter and size
    (bind parameters: topic, n, now, type<i>, data<i>). The INSERT runs although the
    outer SELECT does not read it: PostgreSQL runs every data-modifying CTE to
    completion."""
    numbers = _count(counter).cte("counter")
    last_seq = numbers.c[counter.seq.name]
    log = counter.log
    rows = [
        select(
            bindparam("topic", type_=log.c.topic_id.type),
            (last_seq - (n - 1 - i)).label("seq"),
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


async def read_before(
    session: AsyncSession, topic_id: uuid.UUID, before: int | None, limit: int
) -> Sequence[LogEntry]:
    """Entries with ``seq < before`` (every entry if None), newest first: a timeline read
    backwards. Entries appended meanwhile are newer than any ``before`` a reader holds,
    so its pages neither skip nor repeat one."""
    query = select(LogEntry).where(LogEntry.topic_id == topic_id)
    if before is not None:
        query = query.where(LogEntry.seq < before)
    query = query.order_by(LogEntry.seq.desc()).limit(limit)
    return (await session.scalars(query)).all()


Bounds = tuple[int, int]
ResumeKey = tuple[Topic, int, int]  # (topic, after, limit)
RESUME_BATCH = 200  # positions answered by one read


def covers(bounds: Bounds | None, after: int) -> bool:
    """Can the log alone bring a client at ``after`` up to date? (Not when the position is
    older than the oldest entry kept, or newer than anything written.)"""
    if bounds is None:
        return after == 0
    first, last = bounds
    return first - 1 <= after <= last


class LogReader:
    """Short read-only transactions on a log table (``table``: Quorum's ``event_log``
    unless told), for the hub and the transports."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], table: Table = LOG_TABLE
    ) -> None:
        self._sessionmaker = sessionmaker
        self._table = table
        self._resumes = Batcher("stream_resume", self._resume_many, RESUME_BATCH)

    async def messages(self, topic_id: Topic, after: int, limit: int) -> list[Message]:
        c = self._table.c
        query = (
            select(c.topic_id, c.seq, c.type, c.data, c.created_at)
            .where(c.topic_id == topic_id, c.seq > after)
            .order_by(c.seq)
            .limit(limit)
        )
        async with read_only(self._sessionmaker) as session:
            rows = (await session.execute(query)).all()
        return [_message(r) for r in rows]

    async def bounds(self, topic_id: Topic) -> Bounds | None:
        """(first, last) retained seq of the topic, or None if it has no entries."""
        c = self._table.c
        query = select(func.min(c.seq), func.max(c.seq)).where(c.topic_id == topic_id)
        async with read_only(self._sessionmaker) as session:
            row = (await session.execute(query)).one()
        return None if row[0] is None else (int(row[0]), int(row[1]))

    async def resume(self, topic_id: Topic, after: int, limit: int) -> list[Message] | None:
        """The first ``limit`` entries after ``after``, or None if the log does not cover
        the position (``covers``). Asked by every stream that resumes, and answered for
        many at once: after a restart thousands come back within a second, mostly at a
        few positions of a few topics, and one read (bounds and pages, in one snapshot)
        answers a batch of them. The batch's read starts after the call arrived
        (``quorum.db.batch``), so it sees every commit before it."""
        return await self._resumes((topic_id, after, limit))

    async def _resume_many(self, keys: Sequence[ResumeKey]) -> list[list[Message] | None]:
        c = self._table.c
        topics = list({topic for topic, _, _ in keys})
        async with read_only(self._sessionmaker, consistent=True) as session:
            query = (
                select(c.topic_id, func.min(c.seq), func.max(c.seq))
                .where(c.topic_id.in_(topics))
                .group_by(c.topic_id)
            )
            bounds = {r[0]: (int(r[1]), int(r[2])) for r in await session.execute(query)}
            covered = [key for key in keys if covers(bounds.get(key[0]), key[1])]
            entries: dict[Topic, list[Message]] = {}
            if ranges := _ranges(covered):
                query = (
                    select(c.topic_id, c.seq, c.type, c.data, c.created_at)
                    .where(
                        or_(
                            *(
                                and_(c.topic_id == t, c.seq > lo, c.seq <= hi)
                                for t, lo, hi in ranges
                            )
                        )
                    )
                    .order_by(c.topic_id, c.seq)
                )
                for row in await session.execute(query):
                    entries.setdefault(row[0], []).append(_message(row))
        pages: list[list[Message] | None] = []
        for topic, after, limit in keys:
            if not covers(bounds.get(topic), after):
                pages.append(None)
                continue
            read = entries.get(topic, [])
            start = bisect_right(read, after, key=lambda m: m.seq)
            pages.append(read[start : start + limit])
        return pages


def _ranges(keys: Sequence[ResumeKey]) -> list[tuple[Topic, int, int]]:
    """(topic, after, last seq) ranges that hold the page of every key: positions of a
    topic close together share one range, which reads at most twice a page's entries."""
    ranges: list[tuple[Topic, int, int]] = []
    for topic, after, limit in sorted(keys, key=lambda k: (str(k[0]), k[1])):
        if ranges and ranges[-1][0] == topic and after - ranges[-1][1] <= limit:
            ranges[-1] = (topic, ranges[-1][1], max(ranges[-1][2], after + limit))
        else:
            ranges.append((topic, after, after + limit))
    return ranges


def _message(row: Sequence[Any]) -> Message:
    """A message read back from the log (``committed_at`` 0: not a live delivery)."""
    return Message.build(row[0], row[1], row[2], row[3], row[4].timestamp())


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
