"""``Flag``: what uvicorn asks of an ``asyncio.Event``, for a connection that lives long.

uvicorn's httptools request cycle holds two events per connection: ``message_event``
(the request's: a body chunk, the disconnect) and its flow control's "writable" event.
Each ``asyncio.Event`` carries a ``deque`` for its waiters, about 0.6 KB empty (its first
block), and a ``__dict__``: about 1.5 KB of every idle SSE stream for two flags that have
one waiter at most (bench/fanout, 1,000 idle streams). ``lighten`` swaps them for a
``Flag`` when a stream starts, before anything waits on them; quorum/wsprotocol.py does
the same for the WebSocket protocol's. The swap is by attribute, so it applies only where
they are found as uvicorn 0.3x names them, in the state it leaves them in (an event
nobody waits on); anything else is left alone.
"""

import asyncio
from collections.abc import Callable
from typing import Any


class Flag:
    """``asyncio.Event``'s ``is_set``, ``set``, ``clear`` and ``wait``, with its waiters in a
    list (empty: 56 bytes). ``on_set``, if any, is called on every ``set()``, whether or
    not the flag was set already: for the request's event, something happened to the
    request (uvicorn sets it when the client disconnects, and does not clear it)."""

    __slots__ = ("_value", "_waiters", "on_set")

    def __init__(self, value: bool = False) -> None:
        self._value = value
        self._waiters: list[asyncio.Future[None]] = []
        self.on_set: Callable[[], None] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
        if self.on_set is not None:
            self.on_set()

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters.remove(waiter)


def lighten(server: Any) -> Flag | None:
    """Swap the request cycle ``server``'s events (uvicorn's ``message_event`` and its flow
    control's ``_is_writable_event``) for ``Flag``s in the same state, if they are plain
    ``asyncio.Event`` objects nobody waits on; the request's ``Flag``, if it is one now.
    Call it when nothing can be waiting on them (before the response's tasks start)."""
    _swap(getattr(server, "flow", None), "_is_writable_event")
    flag = _swap(server, "message_event")
    return flag if isinstance(flag, Flag) else None


def _swap(owner: Any, name: str) -> Any:
    event = getattr(owner, name, None)
    if type(event) is asyncio.Event and not getattr(event, "_waiters", True):
        event = Flag(event.is_set())
        setattr(owner, name, event)
    return event
