"""``Batcher``: concurrent lookups share one load, and none is answered by a load that
started before it arrived (whose answer could predate what its caller did first)."""

import asyncio
from collections.abc import Sequence

import pytest

from quorum.db.batch import Batcher, Batchers


class Loads:
    """A load that records each call's keys and waits for ``release`` to answer."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, keys: Sequence[int]) -> list[int]:
        self.calls.append(list(keys))
        self.started.set()
        await self.release.wait()
        return [key * 10 for key in keys]


async def test_lookups_arriving_together_share_one_load() -> None:
    loads = Loads()
    loads.release.set()
    batcher = Batcher("test_together", loads, max_batch=100)
    assert await asyncio.gather(*(batcher(k) for k in range(50))) == [k * 10 for k in range(50)]
    assert loads.calls == [list(range(50))]


async def test_a_lookup_arriving_during_a_load_waits_for_the_next_one() -> None:
    loads = Loads()
    batcher = Batcher("test_in_flight", loads, max_batch=100)
    first = asyncio.gather(batcher(1), batcher(2))
    await asyncio.wait_for(loads.started.wait(), 1)
    later = asyncio.gather(batcher(3), batcher(4), batcher(5))
    await asyncio.sleep(0.01)
    assert loads.calls == [[1, 2]]  # 3, 4 and 5 are not in the load in flight
    loads.release.set()
    assert await first == [10, 20]
    assert await later == [30, 40, 50]
    assert loads.calls == [[1, 2], [3, 4, 5]]


async def test_a_batch_is_at_most_max_batch_keys() -> None:
    loads = Loads()
    loads.release.set()
    batcher = Batcher("test_max", loads, max_batch=4)
    assert await asyncio.gather(*(batcher(k) for k in range(10))) == [k * 10 for k in range(10)]
    assert loads.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_a_failed_load_fails_its_lookups_and_the_next_batch_runs() -> None:
    calls = 0

    async def load(keys: Sequence[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return list(keys)

    batcher = Batcher("test_failure", load, max_batch=100)
    with pytest.raises(ConnectionError):
        await batcher(1)
    assert await batcher(2) == 2


async def test_batchers_share_one_batcher_per_key_and_drop_it_once_idle() -> None:
    """Writes to one key share a batcher (one load at a time, no linger: what arrives
    together goes together); another key has its own; none is kept once idle."""
    batchers = Batchers()
    loads: dict[str, Loads] = {"a": Loads(), "b": Loads()}

    def submit(key: str, item: int) -> "asyncio.Future[int]":
        make = lambda: Batcher(f"test_{key}", loads[key], max_batch=100, linger=0)  # noqa: E731
        return asyncio.ensure_future(batchers.submit(key, item, make))

    together = [submit("a", 1), submit("a", 2), submit("b", 3)]
    await asyncio.wait_for(loads["a"].started.wait(), 1)
    later = submit("a", 4)
    await asyncio.sleep(0.01)
    assert loads["a"].calls == [[1, 2]] and loads["b"].calls == [[3]]
    assert len(batchers._by_key) == 2
    for load in loads.values():
        load.release.set()
    assert await asyncio.gather(*together, later) == [10, 20, 30, 40]
    assert loads["a"].calls == [[1, 2], [4]]
    assert batchers._by_key == {}
