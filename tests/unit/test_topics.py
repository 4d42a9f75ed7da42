"""Topics of either kind (a UUID, an integer) through the hub and the Redis wire."""

import uuid

import pytest

from quorum.realtime.broker import decode, encode_topic
from quorum.realtime.message import Message
from tests.unit.fakes import FakeLog, make_hub, running, turns, until


@pytest.mark.parametrize("topic", [uuid.uuid4(), 0, 7, -3, 2**63 - 1])
def test_the_redis_wire_carries_both_kinds_of_topic(topic: uuid.UUID | int) -> None:
    sent = Message.build(topic, 5, "order_created", {"id": 1}, 12.5)
    received = decode(encode_topic(topic) + sent.body)
    assert (received.topic, received.seq, received.type, received.body) == (
        topic,
        5,
        "order_created",
        sent.body,
    )
    assert type(received.topic) is type(topic)


@pytest.mark.parametrize("data", [b"", b"u" + b"x" * 16, b"i1234567", b"x" + b"{}" * 20])
def test_what_is_not_a_message_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode(data)


async def test_integer_topics_are_kept_apart_by_the_hub() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        one, two = hub.subscribe(1), hub.subscribe(2)
        await until(lambda: len(log.reads) >= 2)
        await turns()
        hub.deliver(Message.build(1, 1, "order_created", {}, 0.0))
        hub.deliver(Message.build(2, 1, "order_deleted", {}, 0.0))
        assert [m.type for m in await drain_messages(one)] == ["order_created"]
        assert [m.type for m in await drain_messages(two)] == ["order_deleted"]


async def drain_messages(sub: object) -> list[Message]:
    batch = await sub.wait()  # type: ignore[attr-defined]
    return list(batch or [])
