"""Audiences in the real-time core: the hub sends each subscriber its audience's
projection of a message, built once per audience present; a projection of None is not
sent; a stream projects what it reads itself (the snapshot, the log's entries) the same
way."""

import asyncio

from quorum.realtime.hub import Hub
from quorum.realtime.message import Message
from quorum.realtime.stream import Streams, StreamSession
from tests.unit.fakes import TOPIC, FakeLog, FakeTransport, drain, msg, running, turns, until


class Recorder:
    """A projection that tags the message with its audience, hides it from "nobody",
    and records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, message: Message, audience: str) -> Message | None:
        self.calls.append((message.seq, audience))
        if audience == "nobody":
            return None
        return Message.build(message.topic, message.seq, f"{message.type}:{audience}", {}, 1.0)


def hub_with(project: Recorder, log: FakeLog) -> Hub:
    return Hub(log, queue_limit=100, poll_interval=3600, heartbeat_interval=3600, project=project)


async def test_each_audience_gets_its_projection_built_once() -> None:
    project = Recorder()
    async with running(hub_with(project, FakeLog())) as hub:
        admins = [hub.subscribe(TOPIC, audience="admin") for _ in range(3)]
        members = [hub.subscribe(TOPIC, audience="member") for _ in range(3)]
        await turns()
        hub.deliver(msg(1))
        got = {sub: await sub.wait() for sub in admins + members}
    assert sorted(project.calls) == [(1, "admin"), (1, "member")]
    admin_messages = {id(got[sub][0]) for sub in admins if got[sub]}
    member_messages = {id(got[sub][0]) for sub in members if got[sub]}
    assert len(admin_messages) == len(member_messages) == 1  # one object per audience
    assert got[admins[0]] is not None and got[admins[0]][0].type == "comment.created:admin"
    assert got[members[0]] is not None and got[members[0]][0].type == "comment.created:member"


async def test_a_projection_of_none_is_not_sent_to_that_audience() -> None:
    project = Recorder()
    async with running(hub_with(project, FakeLog())) as hub:
        hidden, shown = hub.subscribe(TOPIC, audience="nobody"), hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        assert await drain(hidden) == []
        assert await drain(shown) == [1]


async def test_without_a_projection_every_subscriber_gets_the_message_itself() -> None:
    async with running(Hub(FakeLog(), queue_limit=9, poll_interval=9, heartbeat_interval=9)) as hub:
        sub = hub.subscribe(TOPIC, audience="member")
        await turns()
        message = msg(1)
        hub.deliver(message)
        got = await sub.wait()
        assert got is not None and got[0] is message


async def test_a_stream_projects_its_snapshot_and_replay_for_its_audience() -> None:
    log, project = FakeLog(), Recorder()
    log.write(1, 2)

    async def snapshot(topic_id: object) -> Message:
        return Message.build(TOPIC, 2, "snapshot", {}, 1.0)

    async with running(hub_with(project, log)) as hub:
        streams = Streams(hub, log, snapshot, retry_ms=1000)
        for resume_from, expected in (
            (None, ["snapshot:member"]),
            (0, ["comment.created:member"] * 2),
        ):
            transport = FakeTransport()
            with StreamSession(streams, TOPIC, audience="member") as session:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(session.run(transport, resume_from))
                    await until(lambda t=transport: bool(t.writes))
                    session.subscriber.close("test over")
            assert transport.types() == expected


async def test_a_stream_of_an_audience_that_is_sent_nothing_still_moves_on() -> None:
    log, project = FakeLog(), Recorder()
    log.write(1, 2)

    async def snapshot(topic_id: object) -> Message:
        return Message.build(TOPIC, 2, "snapshot", {}, 1.0)

    async with running(hub_with(project, log)) as hub:
        streams = Streams(hub, log, snapshot, retry_ms=1000)
        transport = FakeTransport()
        with StreamSession(streams, TOPIC, audience="nobody") as session:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(session.run(transport, 0))
                await until(lambda: session.sent_seq == 2)
                session.subscriber.close("test over")
        assert transport.writes == []
