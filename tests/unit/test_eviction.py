"""Eviction in-process: a message that ``evicts`` principals reaches every subscriber,
then ends the evicted principals' streams (``access_revoked``) and no one else's, whether
it came from the broker or from a catch-up of the log; a stream writes it before it ends.
A stream asks ``admit`` once subscribed and ready; an ended session closes its streams."""

import asyncio
import uuid
from dataclasses import replace

import orjson
import pytest

from quorum.realtime.broker import MemoryBroker
from quorum.realtime.hub import ACCESS_REVOKED, SESSION_ENDED
from quorum.realtime.message import Message
from quorum.realtime.stream import Admit, StreamSession
from quorum.realtime.subscriber import Subscriber
from tests.unit.fakes import (
    TOPIC,
    FakeLog,
    FakeTransport,
    drain,
    make_hub,
    make_streams,
    msg,
    running,
    turns,
    until,
)

REMOVED = "member.removed"


def removal(seq: int, who: str) -> Message:
    return Message.build(TOPIC, seq, REMOVED, {"who": who}, 1.0)


def evicts(message: Message) -> frozenset[str] | None:
    """The application's side, as the decisions domain writes it: by type, then body."""
    if message.type != REMOVED:
        return None
    return frozenset({orjson.loads(message.body)["data"]["who"]})


async def test_the_evicted_principal_gets_the_message_then_its_stream_ends() -> None:
    async with running(make_hub(FakeLog(), evicts=evicts)) as hub:
        bob = hub.subscribe(TOPIC, principal="bob")
        await turns()
        hub.deliver(msg(1))
        hub.deliver(removal(2, "bob"))
        hub.deliver(msg(3))  # after the eviction: not for bob
        assert await drain(bob) == [1, 2]
        assert await drain(bob) is None
        assert bob.close_reason == ACCESS_REVOKED


async def test_the_others_keep_receiving() -> None:
    async with running(make_hub(FakeLog(), evicts=evicts)) as hub:
        bob, ada = hub.subscribe(TOPIC, principal="bob"), hub.subscribe(TOPIC, principal="ada")
        anonymous = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(removal(1, "bob"))
        hub.deliver(msg(2))
        assert await drain(ada) == [1, 2]
        assert await drain(anonymous) == [1, 2]
        assert not ada.closed and not anonymous.closed
        assert await drain(bob) == [1]


async def test_every_stream_of_the_principal_ends() -> None:
    async with running(make_hub(FakeLog(), evicts=evicts)) as hub:
        tabs = [hub.subscribe(TOPIC, principal="bob") for _ in range(3)]
        await turns()
        hub.deliver(removal(1, "bob"))
        for tab in tabs:
            assert await drain(tab) == [1]
            assert tab.closed and tab.close_reason == ACCESS_REVOKED


async def test_a_message_that_evicts_nobody_closes_nothing() -> None:
    async with running(make_hub(FakeLog(), evicts=evicts)) as hub:
        bob = hub.subscribe(TOPIC, principal="bob")
        await turns()
        hub.deliver(removal(1, "carol"))  # not subscribed here
        hub.deliver(msg(2))
        assert await drain(bob) == [1, 2]
        assert not bob.closed


async def test_without_evicts_a_removal_is_only_a_message() -> None:
    async with running(make_hub(FakeLog())) as hub:
        bob = hub.subscribe(TOPIC, principal="bob")
        await turns()
        hub.deliver(removal(1, "bob"))
        assert await drain(bob) == [1]
        assert not bob.closed


async def test_a_removal_read_from_the_log_in_a_catch_up_evicts_too() -> None:
    """Another instance committed it and its broker message was lost: the gap brings it."""
    log = FakeLog()
    async with running(make_hub(log, evicts=evicts)) as hub:
        bob = hub.subscribe(TOPIC, principal="bob")
        await turns()
        hub.deliver(msg(1))
        log.write(1)
        log.entries[TOPIC].append(removal(2, "bob"))
        log.write(3)
        hub.deliver(msg(3))  # reveals the gap: 2 is read from the log
        await until(lambda: bob.closed)
        assert await drain(bob) == [1, 2]
        assert bob.close_reason == ACCESS_REVOKED


async def test_a_stream_writes_the_evicting_message_and_ends_with_its_reason() -> None:
    log = FakeLog()
    async with running(make_hub(log, evicts=evicts)) as hub:
        transport = FakeTransport()
        with StreamSession(make_streams(hub, log), TOPIC, principal="bob") as session:
            run = asyncio.ensure_future(session.run(transport, None))
            await until(lambda: transport.types() == ["snapshot"])
            log.write(1)
            hub.deliver(msg(1))
            hub.deliver(removal(2, "bob"))
            assert await asyncio.wait_for(run, 1) == ACCESS_REVOKED
        assert transport.types() == ["snapshot", "comment.created", REMOVED]


async def test_a_drained_close_keeps_what_is_queued_and_takes_nothing_more() -> None:
    sub = Subscriber(TOPIC, 10, principal="bob")
    sub.push(msg(1))
    sub.close(ACCESS_REVOKED, drain=True)
    sub.push(msg(2))
    batch = await sub.wait()
    assert batch is not None and [m.seq for m in batch] == [1]
    assert await sub.wait() is None


# -- admission after subscribing, and ended sessions ------------------------------------


class Refused(Exception):
    """The application's refusal, as ``admit`` raises it."""


def admitting(log: FakeLog, removal_at: int) -> Admit:
    """An ``admit`` before whose answer bob is removed (the entry written to the log), as
    a racing removal would be: it sees the removal and refuses."""

    async def admit(topic: uuid.UUID, principal: str | None, session: str | None) -> str:
        log.entries.setdefault(topic, []).append(removal(removal_at, "bob"))
        raise Refused

    return admit


async def test_a_stream_refused_by_admit_raises_the_refusal_and_writes_nothing() -> None:
    """The removal committed before the stream's check: the hub may already have queued
    it for the new subscriber (and evicted it); the refusal is raised, nothing written."""
    log = FakeLog()
    log.write(1)
    async with running(make_hub(log, evicts=evicts)) as hub:
        streams = replace(make_streams(hub, log), admit=admitting(log, removal_at=2))
        transport = FakeTransport()
        with StreamSession(streams, TOPIC, principal="bob", session="s1") as session:
            hub.deliver(removal(2, "bob"))
            with pytest.raises(Refused):
                await session.admit()
            with pytest.raises(Refused):  # a run not admitted first asks, too
                await session.run(transport, None)
        assert transport.writes == []


async def test_admit_is_asked_once_subscribed_and_ready_and_sets_the_audience() -> None:
    """Asked with the principal and session, once the hub knows where the topic's log
    stands (so whatever commits after the answer is fanned out to the subscriber)."""
    log = FakeLog()
    log.write(1)
    asked: list[tuple[str | None, str | None, int, bool]] = []
    async with running(make_hub(log, evicts=evicts)) as hub:

        async def admit(topic: uuid.UUID, principal: str | None, session: str | None) -> str:
            state = hub._topics[topic]
            asked.append((principal, session, len(state.subscribers), state.known.is_set()))
            return "admin"

        streams = replace(make_streams(hub, log), admit=admit)
        transport = FakeTransport()
        with StreamSession(
            streams, TOPIC, audience="least", principal="bob", session="s1"
        ) as session:
            assert session.subscriber.audience == "least"
            await session.admit()
            assert (session.audience, session.subscriber.audience) == ("admin", "admin")
            run = asyncio.ensure_future(session.run(transport, None))
            await until(lambda: transport.types() == ["snapshot"])
            session.subscriber.close("disconnected")
            await asyncio.wait_for(run, 1)
    assert asked == [("bob", "s1", 1, True)]  # once: the run did not ask again


async def test_a_removal_committed_after_the_answer_ends_the_admitted_stream() -> None:
    log = FakeLog()
    log.write(1)
    async with running(make_hub(log, evicts=evicts)) as hub:

        async def admit(topic: uuid.UUID, principal: str | None, session: str | None) -> str:
            return "member"

        streams = replace(make_streams(hub, log), admit=admit)
        transport = FakeTransport()
        with StreamSession(streams, TOPIC, principal="bob", session="s1") as session:
            await session.admit()
            log.entries[TOPIC].append(removal(2, "bob"))  # commits, then is published
            hub.deliver(removal(2, "bob"))
            assert await asyncio.wait_for(session.run(transport, None), 1) == ACCESS_REVOKED
        assert set(transport.types()) <= {"snapshot", REMOVED}


async def test_a_replay_that_holds_the_removal_ends_the_stream_there() -> None:
    log = FakeLog()
    log.write(1)
    log.entries[TOPIC].append(removal(2, "bob"))
    log.write(3)
    async with running(make_hub(log, evicts=evicts)) as hub:
        transport = FakeTransport()
        with StreamSession(make_streams(hub, log), TOPIC, principal="bob") as session:
            assert await asyncio.wait_for(session.run(transport, 0), 1) == ACCESS_REVOKED
        assert transport.seqs() == [1, 2]


async def test_ending_a_session_closes_its_streams_on_every_topic_and_no_other() -> None:
    other_topic = uuid.uuid4()
    async with running(make_hub(FakeLog(), evicts=evicts)) as hub:
        here = hub.subscribe(TOPIC, principal="bob", session="s1")
        there = hub.subscribe(other_topic, principal="bob", session="s1")
        other_device = hub.subscribe(TOPIC, principal="bob", session="s2")
        anonymous = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        hub.end_sessions(frozenset({"s1"}))
        assert await drain(here) is None and await drain(there) is None
        assert here.close_reason == there.close_reason == SESSION_ENDED
        assert await drain(other_device) == [1] and await drain(anonymous) == [1]
        assert not other_device.closed and not anonymous.closed


async def test_the_memory_broker_ends_sessions_on_its_hub() -> None:
    async with running(make_hub(FakeLog())) as hub:
        sub = hub.subscribe(TOPIC, session="s1")
        await MemoryBroker(hub).end_sessions(["s1"])
        assert sub.closed and sub.close_reason == SESSION_ENDED
