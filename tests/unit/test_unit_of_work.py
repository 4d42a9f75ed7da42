"""The unit of work and the log's counter on a real SQLite file: entries are numbered
from the counter row, written in the transaction, and published through the publisher
the unit of work was given only after the commit, in ``seq`` order; never after a
rollback; a failing publish does not undo the commit."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    MetaData,
    String,
    Table,
    Uuid,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from quorum.db.uow import UnitOfWork, after_commit
from quorum.realtime import log
from quorum.realtime.message import Entry

_meta = MetaData()
topics = Table(
    "topics",
    _meta,
    Column("id", Uuid, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("note", String),
)
# A row that breaks a constraint checked only at COMMIT: a way to make the commit fail.
orphans = Table(
    "orphans",
    _meta,
    Column("id", Uuid, primary_key=True),
    Column("topic_id", ForeignKey("topics.id", deferrable=True, initially="DEFERRED")),
)
COUNTER = log.Counter(topics, key=topics.c.id, seq=topics.c.last_seq, returning=(topics.c.note,))
IF_OPEN = replace(COUNTER, guard=topics.c.open.is_(True))
TOPIC = uuid.UUID("00000000-0000-0000-0000-0000000000aa")


class Published:
    def __init__(self) -> None:
        self.calls: list[list[Entry]] = []

    async def __call__(self, entries: Sequence[Entry]) -> None:
        self.calls.append(list(entries))


@pytest.fixture
async def sessionmaker(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def foreign_keys(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    async with engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
        await conn.run_sync(log.LOG_TABLE.create)
        await conn.execute(
            insert(topics).values(id=TOPIC, last_seq=4, open=True, note="read under the lock")
        )
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def logged(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(select(log.LogEntry.seq, log.LogEntry.type))
        return sorted((seq, type_) for seq, type_ in rows)


async def last_seq(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(topics.c.last_seq)) or 0)


async def test_append_numbers_entries_after_the_counter_and_writes_them(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker).transaction() as session:
        row = await log.append(session, TOPIC, [("a", {"x": 1}), ("b", {"x": 2})], COUNTER)
    assert row is not None and row[0] == 6
    assert await logged(sessionmaker) == [(5, "a"), (6, "b")]
    assert await last_seq(sessionmaker) == 6


async def test_append_returns_the_counters_extra_columns(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker).transaction() as session:
        row = await log.append(session, TOPIC, [("a", {})], IF_OPEN)
    assert row is not None and tuple(row) == (5, "read under the lock")


async def test_append_writes_and_stages_nothing_when_the_guard_fails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    published = Published()
    async with UnitOfWork(sessionmaker, publisher=published).transaction() as session:
        await session.execute(topics.update().values(open=False))
        assert await log.append(session, TOPIC, [("a", {})], IF_OPEN) is None
    assert await logged(sessionmaker) == []
    assert await last_seq(sessionmaker) == 4
    assert published.calls == []


async def test_append_for_an_unknown_topic_writes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker).transaction() as session:
        assert await log.append(session, uuid.uuid4(), [("a", {})], COUNTER) is None
    assert await logged(sessionmaker) == []


async def test_entries_are_published_after_the_commit_in_seq_order_in_one_call(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    published = Published()
    async with UnitOfWork(sessionmaker, publisher=published).transaction() as session:
        await log.append(session, TOPIC, [("a", {"i": 1}), ("b", {"i": 2})], COUNTER)
        await log.append(session, TOPIC, [("c", {"i": 3})], COUNTER)
        assert published.calls == []  # not before the commit
    assert published.calls == [
        [
            Entry(TOPIC, 5, "a", {"i": 1}),
            Entry(TOPIC, 6, "b", {"i": 2}),
            Entry(TOPIC, 7, "c", {"i": 3}),
        ]
    ]


async def test_nothing_is_published_or_written_when_the_transaction_rolls_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    published = Published()
    uow = UnitOfWork(sessionmaker, publisher=published)
    with pytest.raises(RuntimeError, match="the change fails"):
        async with uow.transaction() as session:
            await log.append(session, TOPIC, [("a", {})], COUNTER)
            raise RuntimeError("the change fails")
    assert published.calls == []
    assert await logged(sessionmaker) == []
    assert await last_seq(sessionmaker) == 4  # the number is given again
    async with uow.transaction() as session:
        await log.append(session, TOPIC, [("b", {})], COUNTER)
    assert [[e.seq for e in call] for call in published.calls] == [[5]]


async def test_nothing_is_published_when_the_commit_fails(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    published = Published()
    with pytest.raises(IntegrityError):
        async with UnitOfWork(sessionmaker, publisher=published).transaction() as session:
            await log.append(session, TOPIC, [("a", {})], COUNTER)
            await session.execute(insert(orphans).values(id=uuid.uuid4(), topic_id=uuid.uuid4()))
    assert published.calls == []
    assert await logged(sessionmaker) == []


async def test_a_failing_publish_does_not_undo_the_commit(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def broken(entries: Sequence[Entry]) -> None:
        raise ConnectionError("the broker is away")

    async with UnitOfWork(sessionmaker, publisher=broken).transaction() as session:
        await log.append(session, TOPIC, [("a", {})], COUNTER)
    assert await logged(sessionmaker) == [(5, "a")]


async def test_a_transaction_that_appends_nothing_publishes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    published = Published()
    async with UnitOfWork(sessionmaker, publisher=published).transaction() as session:
        await session.execute(topics.update().values(note="changed"))
    assert published.calls == []


async def test_the_log_reader_reads_after_a_position_and_knows_the_bounds(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reader = log.LogReader(sessionmaker)
    assert await reader.bounds(TOPIC) is None
    async with UnitOfWork(sessionmaker).transaction() as session:
        await log.append(session, TOPIC, [("a", {}), ("b", {}), ("c", {})], COUNTER)
    assert await reader.bounds(TOPIC) == (5, 7)
    page = await reader.messages(TOPIC, 5, 1)
    assert [(m.seq, m.type) for m in page] == [(6, "b")]
    assert page[0].committed_at == 0.0  # read back from the log: not a live delivery


async def test_resuming_streams_are_answered_together_as_each_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Streams resuming at once, at positions near and far, covered or not, on a topic
    with entries and one without: one read answers them all, each exactly as its own
    ``bounds`` and ``messages`` would."""
    reader = log.LogReader(sessionmaker)
    async with UnitOfWork(sessionmaker).transaction() as session:
        await log.append(session, TOPIC, [(f"e{i}", {"i": i}) for i in range(30)], COUNTER)
    empty = uuid.UUID("00000000-0000-0000-0000-0000000000bb")
    asks = [
        (TOPIC, after, limit)
        for after, limit in [(3, 5), (4, 5), (10, 5), (12, 3), (30, 10), (34, 5), (35, 5), (20, 1)]
    ]
    asks += [(empty, 0, 5), (empty, 1, 5)]

    async def alone(topic: uuid.UUID, after: int, limit: int) -> list[int] | None:
        bounds = await reader.bounds(topic)
        if not log.covers(bounds, after):
            return None
        return [m.seq for m in await reader.messages(topic, after, limit)]

    expected = [await alone(*ask) for ask in asks]
    assert expected[:3] == [None, [5, 6, 7, 8, 9], [11, 12, 13, 14, 15]]
    queries = ("quorum_batch_queries_total", {"name": "stream_resume"})
    before = REGISTRY.get_sample_value(*queries) or 0.0
    pages = await asyncio.gather(*(reader.resume(*ask) for ask in asks))
    assert [None if p is None else [m.seq for m in p] for p in pages] == expected
    assert REGISTRY.get_sample_value(*queries) == before + 1
    assert all(m.committed_at == 0.0 for p in pages if p for m in p)


def test_a_counter_refuses_columns_of_another_table() -> None:
    with pytest.raises(ValueError, match="belong to its table"):
        log.Counter(topics, key=log.LOG_TABLE.c.topic_id, seq=topics.c.last_seq)


async def test_after_commit_runs_once_committed_and_never_after_a_rollback(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ran: list[str] = []

    async def note(what: str) -> None:
        ran.append(what)

    uow = UnitOfWork(sessionmaker)
    async with uow.transaction() as session:
        after_commit(session, lambda: note("committed"))
        assert ran == []  # not before the commit
    with pytest.raises(RuntimeError):
        async with uow.transaction() as session:
            after_commit(session, lambda: note("rolled back"))
            raise RuntimeError("the change fails")
    assert ran == ["committed"]


async def test_a_failing_after_commit_action_does_not_stop_the_others(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ran: list[str] = []

    async def fail() -> None:
        raise RuntimeError("broker away")

    async def note() -> None:
        ran.append("second")

    async with UnitOfWork(sessionmaker).transaction() as session:
        after_commit(session, fail)
        after_commit(session, note)
    assert ran == ["second"]
