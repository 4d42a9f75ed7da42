"""What a long-lived SSE stream keeps of uvicorn's per-connection objects, made lighter.

uvicorn's httptools protocol and request cycle hold, for as long as the connection lasts,
more than a stream needs once it has started (bench/fanout, 1,000 idle streams):

- two ``asyncio.Event`` objects, the request's ``message_event`` (a body chunk, the
  disconnect) and the flow control's "writable" one, each with a ``deque`` for its
  waiters (about 0.6 KB empty: its first block) and a ``__dict__``, for flags that have
  one waiter at most: ``Flag`` does what uvicorn asks of them, its waiters in a list;
- the request's head, parsed: its headers (a bearer token among them) in the protocol
  and in the scope, and its URL, which nothing reads once the response has been chosen;
- a ``deque`` for pipelined requests, nearly always empty: ``_Pipeline`` is a list with
  the ``appendleft`` uvicorn calls.

``lighten`` makes these swaps when a stream starts, before anything waits on the events;
quorum/wsprotocol.py does the same for the WebSocket protocol's. They are by attribute,
so they apply only where the objects are found as uvicorn (0.3x to 0.5x) names them, in
the state it leaves them in (an event nobody waits on, an empty pipeline, the head of the
request being answered); anything else is left alone.
"""

import asyncio
import collections
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


class _Pipeline(list[Any]):
    """What uvicorn asks of its pipelined requests' deque: ``appendleft``, ``pop`` (from
    the right) and truth; empty, 56 bytes against a deque's 0.6 KB."""

    __slots__ = ()

    def appendleft(self, item: Any) -> None:
        self.insert(0, item)


def lighten(server: Any) -> Flag | None:
    """Lighten what uvicorn keeps for the request cycle ``server`` (see the module's
    docstring); the request's ``Flag``, if its event is one now. Call it once the
    response has read the request, before anything can wait on the cycle's events
    (before the response's tasks start)."""
    _swap(getattr(server, "flow", None), "_is_writable_event")
    flag = _swap(server, "message_event")
    _forget_head(server)
    return flag if isinstance(flag, Flag) else None


def _swap(owner: Any, name: str) -> Any:
    event = getattr(owner, name, None)
    if type(event) is asyncio.Event and not getattr(event, "_waiters", True):
        event = Flag(event.is_set())
        setattr(owner, name, event)
    return event


def _forget_head(server: Any) -> None:
    """Drop the head of the request ``server`` answers from its protocol (if it is still
    the protocol's current request: no pipelined one has begun) and from its scope."""
    scope = getattr(server, "scope", None)
    get_protocol = getattr(getattr(server, "transport", None), "get_protocol", None)
    protocol = get_protocol() if callable(get_protocol) else None
    if (
        protocol is None
        or not isinstance(scope, dict)
        or getattr(protocol, "scope", None) is not scope
    ):
        return
    if type(getattr(protocol, "headers", None)) is list:
        protocol.headers = []
    if type(getattr(protocol, "url", None)) is bytes:
        protocol.url = b""
    pipeline = getattr(protocol, "pipeline", None)
    if type(pipeline) is collections.deque and not pipeline:
        protocol.pipeline = _Pipeline()
    server.scope["headers"] = []  # the same dict as ``scope``
