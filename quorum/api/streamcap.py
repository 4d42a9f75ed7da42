"""A cap on the streams one user holds open at once, SSE and WebSocket together.

Every open stream holds a subscriber, its queue and a socket for as long as it lives,
so without a cap one account (a client reopening in a loop, a leaked token) could hold
thousands. The count is per process: behind N instances a user may hold up to N times
the cap in all; each instance's memory is still bounded, and no shared state is needed.

A slot is taken when the stream starts to be served and given back when it ends, for
any reason (the client went away, the server ended it, an error). For SSE it is taken
inside the response rather than in the route: a route's response may never be sent
(its transaction's commit can fail), and a slot taken there would leak.
"""

import uuid

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from quorum.api.errors import problem, status_of
from quorum.errors import TooManyRequests


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
    """Open streams per user in this process. No lock: it is only touched from the event
    loop, between awaits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[uuid.UUID, int] = {}

    def acquire(self, user_id: uuid.UUID) -> Slot:
        held = self._open.get(user_id, 0)
        if held >= self.limit:
            raise TooManyRequests(
                "too_many_streams",
                f"You already have {held} streams open; close one first.",
            )
        self._open[user_id] = held + 1
        return Slot(self, user_id)

    def _release(self, user_id: uuid.UUID) -> None:
        left = self._open[user_id] - 1
        if left:
            self._open[user_id] = left
        else:
            del self._open[user_id]


class CappedResponse(Response):
    """Sends ``inner`` while holding one of the user's slots, or a 429 problem if none is
    free."""

    def __init__(self, inner: Response, cap: StreamCap, user_id: uuid.UUID) -> None:
        super().__init__(status_code=inner.status_code)
        self.inner = inner
        self.cap = cap
        self.user_id = user_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            slot = self.cap.acquire(self.user_id)
        except TooManyRequests as exc:
            await problem(status_of(exc), exc.code, exc.detail)(scope, receive, send)
            return
        try:
            await self.inner(scope, receive, send)
        finally:
            slot.release()
