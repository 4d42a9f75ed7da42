"""The hub in-process, against an in-memory log: in-order fan-out, duplicates dropped,
gaps filled from the log with what arrives meanwhile kept and drained in order, catch-up
in pages, the clocks, and the subscribers' lifetimes."""

import asyncio

from prometheus_client import REGISTRY

from quorum.realtime.hub import CATCH_UP_PAGE
from tests.unit.fakes import OTHER, TOPIC, FakeLog, drain, make_hub, msg, running, turns, until


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_next_seq_is_fanned_out_to_every_subscriber_of_the_topic() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        a, b = hub.subscribe(TOPIC), hub.subscribe(TOPIC)
        await until(lambda: bool(log.reads))
        await turns()
        hub.deliver(msg(1))
        assert await drain(a) == [1]
        assert await drain(b) == [1]


async def test_subscribers_share_one_message_object() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        a, b = hub.subscribe(TOPIC), hub.subscribe(TOPIC)
        await turns()
        message = msg(1)
        hub.deliver(message)
        got_a, got_b = await a.wait(), await b.wait()
        assert got_a == got_b == [message]
        assert got_a is not None and got_b is not None and got_a[0] is got_b[0] is message


async def test_messages_in_order_are_fanned_out_in_order() -> None:
    async with running(make_hub(FakeLog())) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        for seq in range(1, 6):
            hub.deliver(msg(seq))
        assert await drain(sub) == [1, 2, 3, 4, 5]


async def test_message_of_another_topic_is_not_delivered() -> None:
    async with running(make_hub(FakeLog())) as hub:
        sub = hub.subscribe(TOPIC)
        other = hub.subscribe(OTHER)
        await turns()
        hub.deliver(msg(1, OTHER))
        assert await drain(sub) == []
        assert await drain(other) == [1]


async def test_message_of_a_topic_without_subscribers_is_ignored() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        hub.deliver(msg(5))
        await turns()
        assert log.reads == []  # not even a gap to fill: nobody listens


async def test_duplicate_is_dropped() -> None:
    async with running(make_hub(FakeLog())) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        hub.deliver(msg(1))  # the local delivery and the Redis echo of the same message
        hub.deliver(msg(2))
        hub.deliver(msg(2))
        assert await drain(sub) == [1, 2]


async def test_older_message_is_dropped() -> None:
    async with running(make_hub(FakeLog())) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        hub.deliver(msg(2))
        assert await drain(sub) == [1, 2]
        hub.deliver(msg(1))
        assert await drain(sub) == []


async def test_new_topic_starts_after_the_last_entry_in_the_log() -> None:
    log = FakeLog()
    log.write(1, 2, 3, 4, 5)
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await until(lambda: len(log.reads) >= 2)
        await turns()
        assert await drain(sub) == []  # history is the stream's business, not the hub's
        hub.deliver(msg(6))
        assert await drain(sub) == [6]


async def test_new_topic_with_an_empty_log_starts_at_zero() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        assert log.reads[0] == ("bounds", TOPIC, 0)
        hub.deliver(msg(1))
        assert await drain(sub) == [1]


async def test_messages_during_the_first_sync_wait_and_come_out_in_order() -> None:
    log = FakeLog()
    log.write(1, 2, 3)
    log.gate.clear()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await until(lambda: bool(log.reads))
        log.write(4, 5)
        hub.deliver(msg(5))
        hub.deliver(msg(4))
        assert await drain(sub) == []  # held back: the hub does not know where it is yet
        log.gate.set()
        await until(lambda: len(log.reads) >= 2)
        await turns()
        assert await drain(sub) == [4, 5]  # from the log; the messages were duplicates
    assert log.reads[1] == ("messages", TOPIC, 3)


async def test_gap_reads_the_missing_entries_from_the_log() -> None:
    log = FakeLog()
    gaps = counter("quorum_seq_gaps_total")
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        log.write(1, 2, 3, 4)  # 2 and 3 were committed but their messages were lost
        hub.deliver(msg(4))
        await until(lambda: 1 in log.message_reads())
        assert await drain(sub) == [1, 2, 3, 4]
    assert counter("quorum_seq_gaps_total") == gaps + 1


async def test_messages_arriving_during_a_gap_read_are_kept_and_drained_in_order() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        hub.deliver(msg(1))
        assert await drain(sub) == [1]
        log.write(1, 2, 3)
        log.gate.clear()
        hub.deliver(msg(3))  # gap: 2 is missing
        await until(lambda: 1 in log.message_reads())
        log.write(4, 5, 6)
        for seq in (6, 4, 5, 4):  # out of order, one twice
            hub.deliver(msg(seq))
        assert await drain(sub) == []
        log.gate.set()
        await turns()
        assert await drain(sub) == [2, 3, 4, 5, 6]
    assert log.message_reads() == [0, 1]  # the start, the gap; 4 to 6 were kept meanwhile


async def test_a_gap_left_in_the_pending_messages_is_read_from_the_log_too() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        log.write(1, 2)
        log.gate.clear()
        hub.deliver(msg(2))  # gap: 1 is missing
        await until(lambda: log.message_reads() == [0, 0])
        log.write(3, 4, 5)
        hub.deliver(msg(5))  # pending, with 3 and 4 missing before it
        log.gate.set()
        await until(lambda: log.message_reads() == [0, 0, 2])
        await turns()
        assert await drain(sub) == [1, 2, 3, 4, 5]


async def test_catch_up_reads_a_long_gap_in_pages() -> None:
    log = FakeLog()
    total = 2 * CATCH_UP_PAGE + 7
    async with running(make_hub(log, queue_limit=total)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        log.write(*range(1, total + 1))
        hub.deliver(msg(total))
        await until(lambda: len(log.message_reads()) >= 4)
        assert await drain(sub) == list(range(1, total + 1))
    assert log.message_reads() == [0, 0, CATCH_UP_PAGE, 2 * CATCH_UP_PAGE]


async def test_a_poll_reads_every_page_with_no_message_to_reveal_the_gap() -> None:
    log = FakeLog()
    total = CATCH_UP_PAGE + 2
    async with running(make_hub(log, queue_limit=total)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        log.write(*range(1, total + 1))
        hub.resync_all()
        await until(lambda: len(log.message_reads()) >= 3)
        await turns()
        assert await drain(sub) == list(range(1, total + 1))


async def test_resync_all_brings_entries_committed_elsewhere() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        a, b = hub.subscribe(TOPIC), hub.subscribe(OTHER)
        await turns()
        log.write(1, 2)
        log.write(1, topic=OTHER)
        hub.resync_all()  # what the Redis broker asks for after a reconnect
        await turns()
        assert await drain(a) == [1, 2]
        assert await drain(b) == [1]


async def test_the_poll_clock_catches_up_without_any_message() -> None:
    log = FakeLog()
    async with running(make_hub(log, poll=0.01)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        log.write(1, 2, 3)
        for _ in range(100):
            if await drain(sub):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the poll never caught up")


async def test_a_failed_log_read_is_tried_again_by_the_next_sync() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        sub = hub.subscribe(TOPIC)
        await turns()
        log.write(1, 2)
        log.fail = 1
        hub.deliver(msg(2))
        await turns()
        assert await drain(sub) == []
        hub.resync_all()
        await turns()
        assert await drain(sub) == [1, 2]


async def test_the_heartbeat_clock_wakes_every_subscriber_with_nothing() -> None:
    async with running(make_hub(FakeLog(), heartbeat=0.01)) as hub:
        subs = [hub.subscribe(TOPIC), hub.subscribe(OTHER)]
        for sub in subs:
            assert await asyncio.wait_for(sub.wait(), 1) == []


async def test_a_slow_subscriber_is_dropped_and_the_others_keep_receiving() -> None:
    dropped = counter("quorum_slow_consumers_dropped_total")
    aborted: list[str] = []
    async with running(make_hub(FakeLog(), queue_limit=3)) as hub:
        slow = hub.subscribe(TOPIC, abort=lambda: aborted.append("reset"))
        fast = hub.subscribe(TOPIC)
        await turns()
        received: list[int] = []
        for seq in range(1, 8):
            hub.deliver(msg(seq))
            received += await drain(fast) or []
        assert received == list(range(1, 8))
        assert slow.closed and slow.close_reason == "slow_consumer"
        assert aborted == ["reset"]
    assert counter("quorum_slow_consumers_dropped_total") == dropped + 1


async def test_the_last_unsubscribe_forgets_the_topic() -> None:
    log = FakeLog()
    async with running(make_hub(log)) as hub:
        hub.unsubscribe(hub.subscribe(TOPIC))
        await turns()
        reads = len(log.reads)
        hub.deliver(msg(1))
        await turns()
        assert len(log.reads) == reads  # no topic, no gap to fill
        hub.subscribe(TOPIC)
        await turns()
        assert log.reads[reads] == ("bounds", TOPIC, 0)  # learnt afresh


async def test_an_unsubscribed_subscriber_gets_nothing_more() -> None:
    async with running(make_hub(FakeLog())) as hub:
        gone, staying = hub.subscribe(TOPIC), hub.subscribe(TOPIC)
        await turns()
        hub.unsubscribe(gone)
        hub.unsubscribe(gone)  # twice: harmless
        hub.deliver(msg(1))
        assert await drain(gone) == []
        assert await drain(staying) == [1]


async def test_end_streams_closes_every_subscriber_and_every_later_one() -> None:
    async with running(make_hub(FakeLog())) as hub:
        before = hub.subscribe(TOPIC)
        hub.end_streams()
        after = hub.subscribe(OTHER)
        assert await drain(before) is None and before.close_reason == "shutdown"
        assert await drain(after) is None and after.close_reason == "shutdown"


async def test_a_topic_subscribed_before_the_hub_runs_is_caught_up_when_it_starts() -> None:
    log = FakeLog()
    log.write(1, 2)
    hub = make_hub(log)
    sub = hub.subscribe(TOPIC)
    await turns()
    assert log.reads == []
    async with running(hub):
        await until(lambda: len(log.reads) >= 2)
        hub.deliver(msg(3))
        assert await drain(sub) == [3]


async def test_stopping_the_hub_ends_every_stream() -> None:
    hub = make_hub(FakeLog())
    async with running(hub):
        sub = hub.subscribe(TOPIC)
        waiting = asyncio.ensure_future(sub.wait())
        await turns()
    assert await asyncio.wait_for(waiting, 1) is None
    assert sub.close_reason == "shutdown"
