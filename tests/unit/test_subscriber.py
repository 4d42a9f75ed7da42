"""A subscriber's bounded queue: batches in order, the wake-ups, and the slow consumer:
a push to a full queue closes it (``slow_consumer``) and resets its connection once."""

import asyncio

from quorum.realtime.subscriber import Subscriber
from tests.unit.fakes import TOPIC, drain, msg, turns


def test_push_queues_until_the_limit() -> None:
    sub = Subscriber(TOPIC, limit=3)
    assert all(sub.push(msg(seq)) for seq in (1, 2, 3))
    assert not sub.closed


async def test_wait_returns_everything_queued_in_one_batch_in_order() -> None:
    sub = Subscriber(TOPIC, limit=10)
    for seq in (1, 2, 3):
        sub.push(msg(seq))
    assert [m.seq for m in await sub.wait() or []] == [1, 2, 3]
    assert await drain(sub) == []  # taken: the queue is empty again


def test_a_push_to_a_full_queue_closes_it_as_a_slow_consumer() -> None:
    sub = Subscriber(TOPIC, limit=2)
    sub.push(msg(1))
    sub.push(msg(2))
    assert sub.push(msg(3)) is False
    assert sub.closed and sub.close_reason == "slow_consumer"


def test_a_slow_consumer_has_its_connection_reset_once() -> None:
    resets: list[int] = []
    sub = Subscriber(TOPIC, limit=1, abort=lambda: resets.append(1))
    sub.push(msg(1))
    sub.push(msg(2))
    assert resets == [1]
    assert sub.push(msg(3)) is True  # closed already: ignored, not counted again
    assert resets == [1]


def test_a_slow_consumer_without_abort_is_only_closed() -> None:
    sub = Subscriber(TOPIC, limit=1)
    sub.push(msg(1))
    assert sub.push(msg(2)) is False
    assert sub.closed


async def test_a_closed_subscriber_drops_its_queue_and_wait_returns_none() -> None:
    sub = Subscriber(TOPIC, limit=10)
    sub.push(msg(1))
    sub.close("disconnected")
    assert await sub.wait() is None
    assert sub.close_reason == "disconnected"


def test_the_first_close_reason_stays() -> None:
    sub = Subscriber(TOPIC, limit=10)
    sub.close("slow_consumer")
    sub.close("shutdown")
    assert sub.close_reason == "slow_consumer"


async def test_a_push_wakes_a_waiting_connection() -> None:
    sub = Subscriber(TOPIC, limit=10)
    waiting = asyncio.ensure_future(sub.wait())
    await turns()
    assert not waiting.done()
    sub.push(msg(1))
    assert [m.seq for m in await waiting or []] == [1]


async def test_a_ping_wakes_a_waiting_connection_with_nothing() -> None:
    sub = Subscriber(TOPIC, limit=10)
    waiting = asyncio.ensure_future(sub.wait())
    await turns()
    sub.ping()
    assert await waiting == []


async def test_a_close_wakes_a_waiting_connection_with_none() -> None:
    sub = Subscriber(TOPIC, limit=10)
    waiting = asyncio.ensure_future(sub.wait())
    await turns()
    sub.close("shutdown")
    assert await waiting is None


async def test_a_resume_request_wakes_a_waiting_connection() -> None:
    sub = Subscriber(TOPIC, limit=10)
    waiting = asyncio.ensure_future(sub.wait())
    await turns()
    sub.request_resume(4)
    assert await waiting == []
    assert sub.take_resume() == 4


def test_of_several_resume_requests_the_lowest_is_kept_and_taken_once() -> None:
    sub = Subscriber(TOPIC, limit=10)
    for seq in (7, 3, 5):
        sub.request_resume(seq)
    assert sub.take_resume() == 3
    assert sub.take_resume() is None
