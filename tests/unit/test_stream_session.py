"""``StreamSession`` with a fake transport and an in-memory log: the start (snapshot,
replay, or snapshot again when the log cannot cover the position), live delivery without
gap or duplicate, resume requests, heartbeats and the subscription's lifetime."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.exc import OperationalError

from quorum.realtime.message import Message
from quorum.realtime.stream import DATABASE_UNAVAILABLE, REPLAY_PAGE, Streams, StreamSession
from tests.unit.fakes import (
    TOPIC,
    FakeLog,
    FakeTransport,
    make_hub,
    make_streams,
    msg,
    running,
    turns,
    until,
)


@asynccontextmanager
async def streaming(
    streams: Streams, resume_from: int | None, *, queued: Sequence[int] = ()
) -> AsyncIterator[tuple[StreamSession, FakeTransport]]:
    """A session running on a fake transport; ``queued`` are pushed to its subscriber
    before it starts (live messages that raced with its start)."""
    transport = FakeTransport()
    with StreamSession(streams, TOPIC) as session:
        for seq in queued:
            session.subscriber.push(msg(seq))
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(session.run(transport, resume_from))
            await turns()
            try:
                yield session, transport
            finally:
                session.subscriber.close("test over")


async def test_a_fresh_stream_starts_with_a_snapshot_of_the_current_state() -> None:
    log, snapshots = FakeLog(), list[int]()
    log.write(1, 2, 3)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log, snapshots), None) as (session, transport):
            assert transport.types() == ["snapshot"]
            assert transport.seqs() == [3] and session.sent_seq == 3
    assert snapshots == [3]


async def test_live_messages_the_snapshot_already_reflects_are_skipped() -> None:
    log = FakeLog()
    log.write(1, 2, 3)
    async with running(make_hub(log)) as hub:
        streams = make_streams(hub, log)
        async with streaming(streams, None, queued=[2, 3, 4]) as (_, transport):
            assert transport.seqs() == [3, 4]
            assert transport.types() == ["snapshot", "comment.created"]


async def test_a_resume_within_the_log_replays_the_missed_entries_then_goes_live() -> None:
    log, snapshots = FakeLog(), list[int]()
    log.write(1, 2, 3, 4, 5)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log, snapshots), 2) as (_, transport):
            assert transport.writes == [log.entries[TOPIC][2:5]]  # one write
            log.write(6)
            hub.deliver(msg(6))
            await until(lambda: len(transport.writes) == 2)
            assert transport.seqs() == [3, 4, 5, 6]
    assert snapshots == []


async def test_a_resume_at_the_last_entry_writes_nothing_until_the_next() -> None:
    log = FakeLog()
    log.write(1, 2, 3)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 3) as (session, transport):
            assert transport.writes == [] and session.sent_seq == 3
            hub.deliver(msg(4))
            await until(lambda: bool(transport.writes))
            assert transport.seqs() == [4]


async def test_a_resume_from_zero_on_an_empty_log_needs_no_snapshot() -> None:
    log, snapshots = FakeLog(), list[int]()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log, snapshots), 0) as (_, transport):
            hub.deliver(msg(1))
            await until(lambda: bool(transport.writes))
            assert transport.seqs() == [1]
    assert snapshots == []


async def test_a_resume_older_than_the_retained_log_gets_a_snapshot() -> None:
    log = FakeLog()
    log.write(*range(1, 11))
    log.prune_below(5)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 3) as (_, transport):
            assert transport.types() == ["snapshot"] and transport.seqs() == [10]


async def test_a_resume_just_before_the_first_retained_entry_replays() -> None:
    log = FakeLog()
    log.write(*range(1, 11))
    log.prune_below(5)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 4) as (_, transport):
            assert transport.seqs() == list(range(5, 11))
            assert "snapshot" not in transport.types()


async def test_a_resume_ahead_of_the_log_gets_a_snapshot() -> None:
    log = FakeLog()
    log.write(1, 2, 3)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 20) as (session, transport):
            assert transport.types() == ["snapshot"]
            assert session.sent_seq == 3  # behind the client's claim: the snapshot rules


async def test_the_replay_reads_the_log_in_pages() -> None:
    log = FakeLog()
    total = 2 * REPLAY_PAGE + 3
    log.write(*range(1, total + 1))
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 0) as (_, transport):
            assert [len(batch) for batch in transport.writes] == [REPLAY_PAGE, REPLAY_PAGE, 3]
            assert transport.seqs() == list(range(1, total + 1))
    assert log.message_reads()[-3:] == [0, REPLAY_PAGE, 2 * REPLAY_PAGE]


async def test_a_gap_in_the_queue_is_filled_from_the_log_first() -> None:
    log = FakeLog()
    log.write(1, 2)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 2) as (session, transport):
            log.write(3, 4, 5)
            session.subscriber.push(msg(5))  # 3 and 4 never reached the queue
            await until(lambda: bool(transport.writes))
            await turns()
            assert transport.seqs() == [3, 4, 5]


async def test_what_was_queued_before_a_gap_is_written_before_the_replay() -> None:
    log = FakeLog()
    log.write(1, 2)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 2) as (session, transport):
            log.write(3, 4, 5, 6)
            for seq in (3, 6):  # 4 and 5 are missing
                session.subscriber.push(msg(seq))
            await until(lambda: len(transport.writes) >= 2)
            await turns()
            assert [[m.seq for m in batch] for batch in transport.writes] == [[3], [4, 5, 6]]


async def test_queued_messages_are_written_in_one_write() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 0) as (_, transport):
            for seq in (1, 2, 3):
                hub.deliver(msg(seq))
            await until(lambda: bool(transport.writes))
            assert [[m.seq for m in batch] for batch in transport.writes] == [[1, 2, 3]]


async def test_a_resume_request_behind_what_was_sent_brings_a_fresh_snapshot() -> None:
    log = FakeLog()
    log.write(1, 2, 3, 4, 5)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 0) as (session, transport):
            session.subscriber.request_resume(2)
            await until(lambda: len(transport.writes) == 2)
            hub.deliver(msg(6))
            await until(lambda: len(transport.writes) == 3)
            assert transport.types() == ["comment.created"] * 5 + ["snapshot", "comment.created"]
            assert transport.seqs() == [1, 2, 3, 4, 5, 5, 6]  # no entry twice


async def test_a_resume_request_at_or_ahead_of_what_was_sent_changes_nothing() -> None:
    log = FakeLog()
    log.write(1, 2, 3)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 0) as (session, transport):
            session.subscriber.request_resume(3)
            await turns()
            session.subscriber.request_resume(9)
            await turns()
            hub.deliver(msg(4))
            await until(lambda: len(transport.writes) == 2)
            assert transport.seqs() == [1, 2, 3, 4]
            assert "snapshot" not in transport.types()


async def test_a_snapshot_older_than_what_was_sent_never_moves_the_position_back() -> None:
    log = FakeLog()
    log.write(1, 2, 3, 4, 5)

    async def stale(topic_id: uuid.UUID) -> Message:
        return Message.build(topic_id, 3, "snapshot", {}, 1.0)

    async with running(make_hub(log)) as hub:
        streams = Streams(hub, log, stale, retry_ms=1000)
        async with streaming(streams, 0) as (session, transport):
            session.subscriber.request_resume(1)
            await until(lambda: len(transport.writes) == 2)
            for seq in (4, 5, 6):
                session.subscriber.push(msg(seq))
            await until(lambda: len(transport.writes) == 3)
            assert transport.seqs() == [1, 2, 3, 4, 5, 3, 6]
            assert session.sent_seq == 6


async def test_a_wake_up_with_nothing_to_send_writes_a_heartbeat() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log), 0) as (session, transport):
            session.subscriber.ping()
            await until(lambda: transport.heartbeats == 1)
            assert transport.writes == []


async def test_run_returns_why_the_subscriber_closed() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        with StreamSession(make_streams(hub, log), TOPIC) as session:
            run = asyncio.ensure_future(session.run(FakeTransport(), 0))
            await turns()
            hub.end_streams()
            assert await run == "shutdown"


async def test_leaving_the_session_unsubscribes() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        streams = make_streams(hub, log)
        with StreamSession(streams, TOPIC) as session:
            await turns()
        bounds_reads = log.reads.count(("bounds", TOPIC, 0))
        hub.deliver(msg(1))
        with StreamSession(streams, TOPIC):
            await turns()
        # The topic had no subscriber left, so the hub forgot it and learns it afresh.
        assert log.reads.count(("bounds", TOPIC, 0)) == bounds_reads + 1
        assert not session.subscriber.closed  # left, not closed: nothing reaches it any more


async def test_a_final_message_is_sent_and_then_the_stream_ends() -> None:
    log = FakeLog()
    log.write(1, 2)
    async with running(make_hub(log)) as hub:
        streams = dataclasses.replace(make_streams(hub, log), is_final=lambda m: m.seq == 4)
        transport = FakeTransport()
        with StreamSession(streams, TOPIC) as session:
            task = asyncio.create_task(session.run(transport, 2))
            await turns()
            log.write(3, 4, 5)
            for seq in (3, 4, 5):
                hub.deliver(msg(seq))
            reason = await asyncio.wait_for(task, 5)
    assert reason == "topic_ended"
    assert transport.seqs() == [3, 4]


async def test_a_resume_whose_replay_holds_the_final_message_ends_after_it() -> None:
    log = FakeLog()
    log.write(1, 2, 3, 4)
    async with running(make_hub(log)) as hub:
        streams = dataclasses.replace(make_streams(hub, log), is_final=lambda m: m.seq == 3)
        transport = FakeTransport()
        with StreamSession(streams, TOPIC) as session:
            reason = await asyncio.wait_for(session.run(transport, 1), 5)
    assert (reason, transport.seqs()) == ("topic_ended", [2, 3])


class UnreachableLog(FakeLog):
    """A log whose database has gone away: every start read fails as SQLAlchemy fails."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def resume(self, topic_id: uuid.UUID, after: int, limit: int) -> Sequence[Message] | None:
        raise self.error


async def test_a_stream_whose_start_cannot_read_the_database_ends_for_the_client_to_resume() -> (
    None
):
    unreachable = OperationalError("SELECT ...", None, OSError("connection refused"))
    log = UnreachableLog(unreachable)
    async with running(make_hub(log)) as hub:
        with StreamSession(make_streams(hub, log), TOPIC) as session:
            transport = FakeTransport()
            assert await session.run(transport, 2) == DATABASE_UNAVAILABLE
            assert transport.writes == [] and session.sent_seq == 0


async def test_a_stream_lets_a_bug_through_as_what_it_is() -> None:
    log = UnreachableLog(ValueError("a bug, not an outage"))
    async with running(make_hub(log)) as hub:
        with StreamSession(make_streams(hub, log), TOPIC) as session:
            with pytest.raises(ValueError, match="a bug"):
                await session.run(FakeTransport(), 2)
