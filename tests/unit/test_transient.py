"""Transient messages: delivered live to the topic's subscribers, outside the ``seq``
order, with no SSE ``id:`` line; they neither move a stream's position nor wait for a
catch-up, and they survive a trip through the Redis wire format."""

import asyncio

from quorum.realtime.message import Message
from quorum.realtime.stream import StreamSession
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


def progress(percent: int) -> Message:
    return Message.build_transient(TOPIC, "job.progress", {"percent": percent}, 1.0)


def test_a_transient_frame_has_no_id_line_and_its_envelope_no_seq() -> None:
    message = progress(40)
    assert message.transient
    assert message.sse.startswith(b"event: job.progress\ndata: ")
    assert b"id:" not in message.sse and b'"seq"' not in message.body
    parsed = Message.parse(TOPIC, message.body)  # as another process receives it
    assert parsed.transient and parsed.sse == message.sse


async def test_a_transient_message_reaches_subscribers_between_logged_ones() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await until(lambda: bool(log.reads))
        await turns()
        hub.deliver(msg(1))
        hub.deliver(progress(50))
        hub.deliver(msg(2))
        got = await sub.wait()
        assert got is not None
        assert [(m.type, m.seq) for m in got] == [
            ("comment.created", 1),
            ("job.progress", -1),
            ("comment.created", 2),
        ]


async def test_a_transient_message_never_moves_the_stream_position() -> None:
    log = FakeLog()
    log.write(1, 2)
    async with running(make_hub(log)) as hub:
        transport = FakeTransport()
        with StreamSession(make_streams(hub, log), TOPIC) as session:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(session.run(transport, 2))
                await turns()
                hub.deliver(progress(10))
                await until(lambda: "job.progress" in transport.types())
                assert session.sent_seq == 2
                log.write(3)
                hub.deliver(msg(3))
                await until(lambda: 3 in transport.seqs())
                session.subscriber.close("test over")
    assert transport.types() == ["job.progress", "comment.created"]
