"""The store-orders example on two server processes sharing PostgreSQL and Redis: an
order taken through one reaches an admin screen on the other at once (the log is polled
too rarely for anything but Redis to explain it), and a screen that moves to the other
instance resumes after its Last-Event-ID."""

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.services import REDIS_URL, Backend, Server
from tests.store_orders import Store, collect, migrate, serve

pytestmark = pytest.mark.slow

SLOW_POLL = "30"  # with the log polled this rarely, delivery within seconds means Redis did it


@pytest.fixture(scope="module")
def pair(
    pg_with_redis: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    migrate(pg_with_redis)
    logs = tmp_path_factory.mktemp("pair")
    env = {
        "QUORUM_REDIS_URL": REDIS_URL,
        "QUORUM_LOG_POLL_INTERVAL_SECONDS": SLOW_POLL,
    }
    a, b = serve(pg_with_redis, logs, **env), serve(pg_with_redis, logs, **env)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
async def clients(pair: tuple[Server, Server]) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        httpx.AsyncClient(base_url=pair[0].url, timeout=30) as a,
        httpx.AsyncClient(base_url=pair[1].url, timeout=30) as b,
    ):
        yield a, b


async def test_orders_taken_on_one_instance_reach_a_screen_on_the_other(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = clients
    store = await Store(a).open()
    _, session = await store.table_session()
    async with store.screen(http=b) as stream:
        assert (await anext(stream)).event == "initial"
        started = time.monotonic()
        orders = [await store.order(session) for _ in range(5)]
        got = await collect(stream, 5, seconds=5)
    assert time.monotonic() - started < 5  # not the 30 s poll: Redis carried them
    assert [e.data["data"] for e in got] == orders


async def test_a_screen_resumes_on_the_other_instance(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = clients
    store = await Store(a).open()
    _, session = await store.table_session()
    async with store.screen() as stream:  # on a
        await anext(stream)
        first = await store.order(session)
        seen = await collect(stream, 1)
    missed = [await store.order(session) for _ in range(3)]  # while the screen is away
    async with store.screen(last_event_id=seen[-1].id, http=b) as stream:
        later = await store.update(first["id"], "served")
        got = await collect(stream, 5, seconds=5)
    assert [e.id for e in got] == [2, 3, 4, 5]
    assert [e.data["data"] for e in got] == [*missed, later]
