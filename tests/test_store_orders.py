"""The store-orders example (examples/store_orders), a second application on the real-time
core, against real server processes on SQLite and PostgreSQL: the seed's events exactly,
concurrent writers delivered once and in order, a screen that reconnects at random
points, stores kept apart."""

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.services import Backend, Server, create_backend, drop_backend
from tests.sse import Event, frames
from tests.store_orders import Store, collect, migrate, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shop_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend: Backend = create_backend(request.param, tmp_path_factory.mktemp(request.param))
    migrate(backend)
    server = serve(
        backend, tmp_path_factory.mktemp("logs"), QUORUM_HEARTBEAT_INTERVAL_SECONDS="0.5"
    )
    yield server
    server.stop()
    drop_backend(backend)


@pytest.fixture
async def http(shop_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=shop_server.url, timeout=30, limits=limits) as client:
        yield client


async def test_the_admin_screen_receives_the_seeds_events(http: httpx.AsyncClient) -> None:
    store = await Store(http).open()
    table, session = await store.table_session()
    async with store.screen() as stream:
        initial = await anext(stream)
        created = await store.order(session)
        await store.update(created["id"], "preparing")
        second = await store.order(session, "tea")
        await store.delete(second["id"])
        await store.end(session)
        got = await collect(stream, 5)
    assert (initial.event, initial.id, initial.data["data"]) == ("initial", 0, {"orders": []})
    assert [(e.id, e.event, e.data["data"]) for e in got] == [
        (1, "order_created", created),
        (2, "order_updated", {"order_id": created["id"], "status": "preparing"}),
        (3, "order_created", second),
        (4, "order_deleted", {"order_id": second["id"], "table_id": table}),
        (5, "session_ended", {"table_id": table, "session_id": session}),
    ]
    items = [{"name": "bibimbap", "quantity": 2}]
    assert created == {"id": created["id"], "table_id": table, "session_id": session,
                       "items": items, "status": "pending"}  # fmt: skip


async def test_initial_holds_the_open_orders_and_heartbeats_keep_the_stream_alive(
    http: httpx.AsyncClient,
) -> None:
    store = await Store(http).open()
    _, ended = await store.table_session(1)
    _, open_ = await store.table_session(2)
    await store.order(ended)
    kept = await store.order(open_)
    await store.end(ended)
    url = f"/admin/orders/stream?token={store.token}"
    async with http.stream("GET", url) as response, asyncio.timeout(10):
        seen = [f async for f in _first(frames(response), 4)]
    initial = next(f.event for f in seen if f.event is not None)
    assert (initial.event, initial.id, initial.data["data"]) == ("initial", 3, {"orders": [kept]})
    assert "heartbeat" in [f.comment for f in seen]


async def test_ten_concurrent_writers_reach_the_admin_exactly_once_and_in_order(
    http: httpx.AsyncClient,
) -> None:
    store = await Store(http).open()
    _, session = await store.table_session()
    done: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(10)]

    async def writer(mine: list[tuple[str, dict[str, Any]]]) -> None:
        for _ in range(2):
            order = await store.order(session)
            mine.append(("order_created", order))
            mine.append(("order_updated", await store.update(order["id"], "preparing")))
            mine.append(("order_updated", await store.update(order["id"], "served")))
        mine.append(("order_deleted", await store.delete(order["id"])))

    async with store.screen() as stream:
        initial = await anext(stream)
        await asyncio.gather(*(writer(mine) for mine in done))
        got = await collect(stream, 70)
    assert initial.event == "initial"
    assert [e.id for e in got] == list(range(1, 71))  # every entry, once, in seq order
    received = [(e.event, e.data["data"]) for e in got]
    for mine in done:  # each writer's changes, in the order it made them
        assert [change for change in received if change in mine] == mine


async def test_a_screen_that_reconnects_at_random_points_misses_nothing(
    http: httpx.AsyncClient,
) -> None:
    store = await Store(http).open()
    _, session = await store.table_session()
    rng = random.Random(13)
    writes = 60

    async def write() -> None:
        for _ in range(writes // 3):
            order = await store.order(session)
            await store.update(order["id"], "served")
            await store.delete(order["id"])
            await asyncio.sleep(rng.random() / 100)

    writing: asyncio.Future[None] | None = None
    seen: list[Event] = []
    last: int | None = None
    connections = 0
    while last is None or last < writes:
        connections += 1
        async with store.screen(last) as stream, asyncio.timeout(30):
            for _ in range(rng.randint(1, 6)):  # then drop the connection mid-stream
                event = await anext(stream)
                seen.append(event)
                last = event.id
                writing = writing or asyncio.ensure_future(write())  # once the screen is up
                if last == writes:
                    break
    assert writing is not None
    await writing
    entries = [e for e in seen if e.event != "initial"]
    assert [e.event for e in seen[:1]] == ["initial"]
    assert [e.id for e in entries] == list(range(1, writes + 1))
    assert "initial" not in [e.event for e in seen[1:]]  # every reconnect resumed from the log
    assert connections > 10


async def test_two_stores_are_isolated(http: httpx.AsyncClient) -> None:
    a, b = await Store(http).open("a"), await Store(http).open("b")
    _, session_a = await a.table_session()
    _, session_b = await b.table_session()
    async with a.screen() as stream_a, b.screen() as stream_b:
        for stream in (stream_a, stream_b):
            assert (await anext(stream)).event == "initial"
        orders_a = [await a.order(session_a) for _ in range(3)]
        orders_b = [await b.order(session_b) for _ in range(2)]
        got_a, got_b = await collect(stream_a, 3), await collect(stream_b, 2)
    assert [e.data["data"] for e in got_a] == orders_a
    assert [e.data["data"] for e in got_b] == orders_b
    other = orders_b[0]["id"]
    refused = await http.patch(f"/admin/orders/{other}", json={"status": "served"}, headers=a.auth)
    assert refused.status_code == 404  # a's admin cannot touch b's order
    assert (await http.post(f"/admin/sessions/{session_b}/end", headers=a.auth)).status_code == 404
    bad = await http.get("/admin/orders/stream?token=not-a-token")
    assert bad.status_code == 401


async def _first(iterator: AsyncIterator[Any], n: int) -> AsyncIterator[Any]:
    for _ in range(n):
        yield await anext(iterator)
