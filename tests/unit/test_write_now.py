"""A transport's synchronous ``write_now``: the hub writes a live message (or a heartbeat)
straight from its fan-out while the stream's task is parked, and leaves every other case
to the task. Whichever path a message takes, each is written once, in order."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from quorum.realtime.broker import MemoryBroker
from quorum.realtime.message import Message
from quorum.realtime.stream import Streams, StreamSession
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


class DirectTransport(FakeTransport):
    """Records what ``write_now`` wrote (``direct``: seqs, None for a heartbeat) apart
    from what the task wrote; ``busy`` makes it decline, as a transport whose client
    has not taken everything yet."""

    def __init__(self) -> None:
        super().__init__()
        self.direct: list[int | None] = []
        self.busy = False

    def write_now(self, message: Message | None) -> bool:
        if self.busy:
            return False
        self.direct.append(None if message is None else message.seq)
        return True


@asynccontextmanager
async def streaming(streams: Streams) -> AsyncIterator[tuple[StreamSession, DirectTransport]]:
    transport = DirectTransport()
    with StreamSession(streams, TOPIC) as session:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(session.run(transport, None, transport.write_now))
            await turns()
            try:
                yield session, transport
            finally:
                session.subscriber.close("test over")


async def test_the_next_message_is_written_from_the_fan_out_and_a_duplicate_is_not() -> None:
    log = FakeLog()
    log.write(1)
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log)) as (session, transport):
            log.write(2, 3)
            hub.deliver(msg(2))
            assert transport.direct == [2]  # at once: no turn of the loop in between
            hub.deliver(msg(3))
            session.subscriber.push(msg(3))  # again (the broker, then the log)
            assert transport.direct == [2, 3] and session.sent_seq == 3
            await turns()
            assert transport.seqs() == [1]  # the task wrote the snapshot only


async def test_a_busy_transport_leaves_messages_to_the_task_in_order() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log)) as (_, transport):
            transport.busy = True
            log.write(1, 2)
            hub.deliver(msg(1))
            transport.busy = False
            hub.deliver(msg(2))  # queued behind 1: the task is no longer parked
            await until(lambda: transport.seqs() == [0, 1, 2])
            assert transport.direct == []
            log.write(3)
            hub.deliver(msg(3))  # parked again
            assert transport.direct == [3]


async def test_a_gap_is_filled_by_the_task_from_the_log() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log)) as (session, transport):
            log.write(1, 2, 3)
            session.subscriber.push(msg(3))  # 1 and 2 never came live
            await until(lambda: transport.seqs() == [0, 1, 2, 3])
            assert transport.direct == []


async def test_a_final_message_is_written_by_the_task_which_ends_the_stream() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        streams = dataclasses.replace(make_streams(hub, log), is_final=lambda m: m.seq == 2)
        async with streaming(streams) as (session, transport):
            log.write(1, 2)
            hub.deliver(msg(1))
            hub.deliver(msg(2))
            await until(lambda: session.ended)
            assert transport.direct == [1] and transport.seqs() == [0, 2]
            assert session.subscriber.close_reason == "topic_ended"


async def test_a_heartbeat_is_written_at_once_unless_the_transport_is_busy() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log)) as (session, transport):
            session.subscriber.ping()
            assert transport.direct == [None] and transport.heartbeats == 0
            transport.busy = True
            session.subscriber.ping()
            await until(lambda: transport.heartbeats == 1)


async def test_a_published_message_reaches_the_hub_after_the_publisher_goes_on() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        async with streaming(make_streams(hub, log)) as (_, transport):
            log.write(1, 2)
            await MemoryBroker(hub).publish([msg(1), msg(2)])
            assert transport.direct == []  # the publisher's response is not held up
            await asyncio.sleep(0)
            assert transport.direct == [1, 2]
