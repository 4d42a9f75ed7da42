"""The pieces of quorum/wsprotocol.py that stand in for websockets and asyncio: the text
frame built once per message must be the frame websockets would send, and the light
receive queue and flow-control flag must wake, order and cancel as asyncio's do."""

import asyncio

import pytest
from websockets.frames import Frame, Opcode

from quorum.realtime.message import Message, ws_text_frame
from quorum.wsprotocol import _Inbox, _Writable


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_is_websockets_own_at_every_length_boundary(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    websockets_frame = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert ws_text_frame(payload) == websockets_frame


def test_every_message_carries_its_frame() -> None:
    message = Message.build(1, 7, "vote.cast", {"n": 1}, 1.0)
    transient = Message.build_transient(1, "progress", {"n": 1}, 1.0)
    for m in (message, transient):
        assert m.ws == ws_text_frame(m.body) and m.ws.endswith(m.text.encode())


async def test_inbox_hands_items_in_order_to_waiting_getters() -> None:
    inbox = _Inbox()
    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait({"type": "websocket.receive", "text": "a"})
    inbox.put_nowait({"type": "websocket.receive", "text": "b"})
    assert [(await first)["text"], (await second)["text"]] == ["a", "b"]
    assert inbox.empty()


async def test_inbox_passes_an_item_on_when_its_woken_getter_is_cancelled() -> None:
    inbox = _Inbox()
    doomed = asyncio.create_task(inbox.get())
    other = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
    doomed.cancel()  # woken, but cancelled before it ran
    assert (await other)["type"] == "websocket.disconnect"
    with pytest.raises(asyncio.CancelledError):
        await doomed


async def test_writable_holds_senders_until_set_and_one_cancelled_wait_spares_the_rest() -> None:
    writable = _Writable()
    assert await writable.wait()  # not paused: no wait
    writable.clear()
    waiters = [asyncio.create_task(writable.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiters)
    waiters[0].cancel()
    await asyncio.sleep(0)
    writable.set()
    assert await waiters[1] and await waiters[2]
    assert waiters[0].cancelled() and writable.is_set()
