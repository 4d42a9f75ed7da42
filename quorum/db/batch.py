"""One query for many concurrent lookups of the same kind: a reconnect storm's handshakes,
the votes that reach one event together.

Lookups that arrive while the previous query is in flight (or within the linger of the
first) wait for the next query, which answers all of them at once; at most one query
runs at a time per batcher. A lookup is always answered by a query that *started after
it arrived*, never by one already in flight, so its answer is as fresh as a query of its
own would be: a caller that did something before asking (a stream subscribing) knows
the answer reflects every commit before that.

aiodataloader (the DataLoader pattern) batches only what arrives in the same event-loop
iteration and runs its batches concurrently: the handshakes of a storm arrive spread
over many iterations, so each would still cost a query of its own.
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.metrics import BATCH_QUERIES, BATCHED_LOOKUPS

K = TypeVar("K")
V = TypeVar("V")
LINGER = 0.002  # seconds the first lookup after a quiet spell waits for others to join


class Batcher(Generic[K, V]):
    """``await batcher(key)``: ``load(keys)`` answers each key (in order), for many at once.
    Counted as ``quorum_batch_queries_total`` and ``quorum_batched_lookups_total`` under
    ``name``. ``linger``: how long the first lookup after a quiet spell waits for others
    (0: one turn of the event loop, for what arrives together)."""

    def __init__(
        self,
        name: str,
        load: Callable[[Sequence[K]], Awaitable[Sequence[V]]],
        max_batch: int,
        linger: float = LINGER,
    ) -> None:
        self._load = load
        self._max = max_batch
        self._linger = linger
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._queries = BATCH_QUERIES.labels(name)
        self._lookups = BATCHED_LOOKUPS.labels(name)

    @property
    def idle(self) -> bool:
        """Nothing waits and no query runs."""
        return self._runner is None and not self._waiting

    async def __call__(self, key: K) -> V:
        answer: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, answer))
        if self._runner is None:
            # A context of its own: not the first caller's (its request id, in the logs).
            self._runner = asyncio.create_task(self._run(), context=contextvars.Context())
        return await answer

    async def _run(self) -> None:
        """Query for whoever waits, one batch after another, until nobody does."""
        batch: list[tuple[K, asyncio.Future[V]]] = []
        try:
            await asyncio.sleep(self._linger)
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                self._queries.inc()
                self._lookups.inc(len(batch))
                try:
                    values = await self._load([key for key, _ in batch])
                except Exception as exc:  # each caller gets the error its own query would have
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for (_, answer), value in zip(batch, values, strict=True):
                    if not answer.done():  # its caller may have gone (a client disconnected)
                        answer.set_result(value)
        finally:
            self._runner = None
            for _, answer in batch + self._waiting:  # cancelled: the process is ending
                answer.cancel()  # (a no-op for an answered one)
            self._waiting = []


BATCHES = "quorum.batches"  # a session's ``info`` key: its database's ``Batchers``


def batches_of(session: AsyncSession) -> "Batchers | None":
    """The ``Batchers`` of ``session``'s database (quorum.db.engine.create_sessionmaker
    puts them in every session's ``info``); None for a session made otherwise."""
    return cast("Batchers | None", session.info.get(BATCHES))


class Batchers:
    """A database's batchers of writes, one per key (a kind of write and the row it
    serialises on, e.g. one event's votes), made on first use and dropped once idle: a
    process that wrote to a million events keeps none of them."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, Batcher[Any, Any]] = {}

    async def submit(self, key: Hashable, item: K, make: Callable[[], Batcher[K, V]]) -> V:
        """``item`` through the batcher of ``key`` (``make`` makes it when there is none)."""
        batcher: Batcher[K, V] | None = self._by_key.get(key)
        if batcher is None:
            batcher = self._by_key[key] = make()
        try:
            return await batcher(item)
        finally:
            if batcher.idle and self._by_key.get(key) is batcher:
                del self._by_key[key]
