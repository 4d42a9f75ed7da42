"""Caps on open streams (SSE and WebSocket together): per user, and per process.

Every open stream holds a subscriber, its queue and a socket for as long as it lives,
so without a cap one account (a client reopening in a loop, a leaked token) could hold
thousands: past ``max_streams_per_user`` the next is 429 ``too_many_streams``. The
process as a whole holds at most ``max_streams``: past it the next is 503
``streams_full`` (a WebSocket: close 1013, try again later), so that a reconnect storm
larger than the instance gets a clear answer rather than a silent timeout. Both answers
carry a jittered Retry-After, so that the clients refused in one instant do not all come
back in the next one. The counts are per process: behind N instances a user may hold up
to N times the cap in all; each instance's memory is still bounded, and no shared state
is needed.

A slot is taken when the stream starts to be served and given back when it ends, for
any reason (the client went away, the server ended it, an error). For SSE it is taken
inside the response rather than in the route: a route's response may never be sent
(its transaction's commit can fail), and a slot taken there would leak.
"""

import random
import uuid
from collections.abc import Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from quorum.api.errors import problem, status_of
from quorum.errors import DomainError, Overloaded, TooManyRequests
from quorum.realtime.sse import EventStreamResponse

# Seconds a refused client is told to wait, drawn uniformly: the spread of its retries.
RETRY_AFTER_RANGE = (2, 12)


def retry_after() -> int:
    return random.randint(*RETRY_AFTER_RANGE)  # noqa: S311 (jitter, not a secret)


class Slot:
    def __init__(self, cap: "StreamCap", user_id: uuid.UUID) -> None:
        self._cap = cap
        self._user_id = user_id
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._cap._release(self._user_id)


class StreamCap:
    """Open streams per user and in all, in this process. No lock: it is only touched
    from the event loop, between awaits."""

    def __init__(self, limit: int, total_limit: int) -> None:
        self.limit = limit
        self.total_limit = total_limit
        self._open: dict[uuid.UUID, int] = {}
        self._total = 0

    def check_room(self) -> None:
        """Raise ``Overloaded`` if the process is full: asked before a stream's handshake
        reads the database, so that a refusal in a storm costs no round trip."""
        if self._total >= self.total_limit:
            wait = retry_after()
            raise Overloaded(
                "streams_full",
                f"This server holds all the streams it can; retry in {wait} seconds.",
                wait,
            )

    def acquire(self, user_id: uuid.UUID) -> Slot:
        self.check_room()
        held = self._open.get(user_id, 0)
        if held >= self.limit:
            raise TooManyRequests(
                "too_many_streams",
                f"You already have {held} streams open; close one first.",
                retry_after(),
            )
        self._open[user_id] = held + 1
        self._total += 1
        return Slot(self, user_id)

    def _release(self, user_id: uuid.UUID) -> None:
        self._total -= 1
        left = self._open[user_id] - 1
        if left:
            self._open[user_id] = left
        else:
            del self._open[user_id]


def refusal(exc: DomainError) -> Response:
    """The problem+json answer to a stream refused by ``exc``, with its Retry-After."""
    wait = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(wait)} if wait is not None else None
    return problem(status_of(exc), exc.code, exc.detail, headers=headers)


class CappedResponse(Response):
    """Sends ``inner`` while holding one of the user's slots, or a 429 (the user's cap) or
    503 (the process's) problem if none is free. Calling it returns ``inner``'s call, which
    gives the slot back when it ends: neither this object nor a frame of its own stays for
    the stream's life (quorum/api/front.py)."""

    def __init__(self, inner: EventStreamResponse, cap: StreamCap, user_id: uuid.UUID) -> None:
        super().__init__(status_code=inner.status_code)
        self.inner = inner
        self.cap = cap
        self.user_id = user_id

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Coroutine[Any, Any, None]:
        try:
            slot = self.cap.acquire(self.user_id)
        except (TooManyRequests, Overloaded) as exc:
            return refusal(exc)(scope, receive, send)
        self.inner.on_end = slot.release
        return self.inner(scope, receive, send)
