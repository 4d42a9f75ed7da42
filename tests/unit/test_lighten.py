"""quorum/realtime/lighten.py: ``Flag`` does what uvicorn asks of an ``asyncio.Event``, and
``lighten`` swaps a request cycle's events for flags only when that is safe."""

import asyncio
import collections
from types import SimpleNamespace

from quorum.realtime.lighten import Flag, _Pipeline, lighten


async def test_a_flag_wakes_its_waiters_and_stays_set_until_cleared() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True]
    assert flag.is_set() and await flag.wait()  # set: no wait at all
    flag.clear()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    waiter.cancel()  # a cancelled waiter leaves nothing behind
    await asyncio.gather(waiter, return_exceptions=True)
    flag.set()
    assert flag.is_set()


async def test_on_set_is_called_on_every_set_even_when_already_set() -> None:
    calls: list[bool] = []
    flag = Flag(True)  # as uvicorn leaves it once the request's body is complete
    flag.on_set = lambda: calls.append(flag.is_set())
    flag.set()
    flag.set()
    assert calls == [True, True]


def cycle(message: object, writable: object) -> SimpleNamespace:
    return SimpleNamespace(message_event=message, flow=SimpleNamespace(_is_writable_event=writable))


async def test_lighten_swaps_idle_events_for_flags_in_the_same_state() -> None:
    message, writable = asyncio.Event(), asyncio.Event()
    message.set()
    server = cycle(message, writable)
    flag = lighten(server)
    assert flag is server.message_event and isinstance(flag, Flag) and flag.is_set()
    assert isinstance(server.flow._is_writable_event, Flag)
    assert not server.flow._is_writable_event.is_set()


async def test_lighten_leaves_an_event_someone_waits_on_or_anything_else() -> None:
    busy = asyncio.Event()
    waiter = asyncio.create_task(busy.wait())
    await asyncio.sleep(0)
    other = object()
    server = cycle(busy, other)
    assert lighten(server) is None
    assert server.message_event is busy and server.flow._is_writable_event is other
    busy.set()
    await waiter
    assert lighten(SimpleNamespace()) is None  # a server without them


def test_the_light_pipeline_takes_and_gives_in_the_deque_s_order() -> None:
    light, deque = _Pipeline(), collections.deque[int]()
    for item in (1, 2, 3):
        light.appendleft(item)
        deque.appendleft(item)
    assert light and [light.pop() for _ in range(3)] == [deque.pop() for _ in range(3)]
    assert not light


def protocol_with(scope: dict[str, object]) -> SimpleNamespace:
    return SimpleNamespace(
        scope=scope,
        headers=[(b"authorization", b"Bearer x")],
        url=b"/x",
        pipeline=collections.deque(),
    )


async def test_lighten_forgets_the_head_of_the_request_it_answers_only() -> None:
    scope: dict[str, object] = {"headers": [(b"authorization", b"Bearer x")]}
    protocol = protocol_with(scope)
    transport = SimpleNamespace(get_protocol=lambda: protocol)
    lighten(SimpleNamespace(scope=scope, transport=transport))
    assert (protocol.headers, protocol.url, scope["headers"]) == ([], b"", [])
    assert isinstance(protocol.pipeline, _Pipeline)
    # A pipelined request's head is being read: the protocol's scope is another one.
    later = protocol_with({"headers": []})
    transport = SimpleNamespace(get_protocol=lambda: later)
    lighten(SimpleNamespace(scope=scope, transport=transport))
    assert later.headers and later.url and type(later.pipeline) is collections.deque
