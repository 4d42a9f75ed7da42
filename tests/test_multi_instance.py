"""Two server processes sharing PostgreSQL and Redis: a change made through one reaches
clients of the other, fast through Redis, and still (from the log) while Redis is away."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.api import Api, User
from tests.proxy import TcpProxy
from tests.services import (
    REDIS_HOST,
    REDIS_PORT,
    Backend,
    Server,
    start_server,
)
from tests.sse import Event, events

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

SLOW_POLL = "30"  # with the log polled this rarely, delivery within a second means Redis did it


def _pair(backend: Backend, logs: Path, redis_port: int, poll: str) -> tuple[Server, Server]:
    env = {
        "QUORUM_REDIS_URL": f"redis://{REDIS_HOST}:{redis_port}/0",
        "QUORUM_LOG_POLL_INTERVAL_SECONDS": poll,
    }
    return start_server(backend, logs, **env), start_server(backend, logs, **env)


@pytest.fixture(scope="module")
def servers(
    pg_with_redis: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    a, b = _pair(pg_with_redis, tmp_path_factory.mktemp("ab"), REDIS_PORT, SLOW_POLL)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
async def clients(servers: tuple[Server, Server]) -> AsyncIterator[tuple[Api, Api]]:
    async with (
        httpx.AsyncClient(base_url=servers[0].url, timeout=30) as a,
        httpx.AsyncClient(base_url=servers[1].url, timeout=30) as b,
    ):
        yield Api(a), Api(b)


async def _setup(api: Api) -> tuple[User, str, str]:
    owner = await api.user("owner")
    event = await api.event(owner)
    return owner, event, await api.proposal(owner, event)


async def _receive(
    response: httpx.Response,
    inbox: asyncio.Queue[tuple[float, Event]],
    everything: list[Event] | None = None,
) -> None:
    async for message in events(response):
        await inbox.put((time.monotonic(), message))
        if everything is not None:
            everything.append(message)


async def _snapshot(inbox: asyncio.Queue[tuple[float, Event]]) -> None:
    """Wait for the stream's first message, the snapshot: from then on it is subscribed."""
    _, message = await asyncio.wait_for(inbox.get(), 10)
    assert message.event == "snapshot", message


async def _next_live(inbox: asyncio.Queue[tuple[float, Event]], wait: float) -> tuple[float, Event]:
    while True:
        at, message = await asyncio.wait_for(inbox.get(), wait)
        if message.event != "snapshot":
            return at, message


async def test_vote_through_b_reaches_sse_client_of_a_within_a_second(
    clients: tuple[Api, Api],
) -> None:
    a, b = clients
    owner, event, proposal = await _setup(a)
    inbox: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
    async with a.client.stream("GET", f"/api/v1/events/{event}/stream", headers=owner.auth) as r:
        reader = asyncio.create_task(_receive(r, inbox))
        await _snapshot(inbox)
        for expected_count in (1, 2):
            if expected_count == 2:
                await b.client.delete(b.vote_url(event, proposal) + "/me", headers=owner.auth)
                await _next_live(inbox, 5)  # the withdrawal
            sent = time.monotonic()
            assert (
                await b.client.post(b.vote_url(event, proposal), headers=owner.auth)
            ).status_code == 201
            at, message = await _next_live(inbox, 5)
            assert message.event == "vote.cast" and message.data["data"]["vote_count"] == 1
            assert at - sent < 1.0, f"took {at - sent:.2f} s"
        reader.cancel()


async def test_vote_through_b_reaches_websocket_client_of_a(
    clients: tuple[Api, Api], servers: tuple[Server, Server]
) -> None:
    a, b = clients
    owner, event, proposal = await _setup(a)
    ticket = (
        await a.client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
    ).json()
    url = (
        servers[0].url.replace("http", "ws")
        + f"/api/v1/events/{event}/ws?ticket={ticket['ticket']}"
    )
    async with ws_connect(url) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
        sent = time.monotonic()
        assert (
            await b.client.post(b.vote_url(event, proposal), headers=owner.auth)
        ).status_code == 201
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "vote.cast"
        assert time.monotonic() - sent < 1.0


async def test_ticket_from_one_instance_is_accepted_by_the_other(clients: tuple[Api, Api]) -> None:
    a, b = clients
    owner, event, _ = await _setup(a)
    ticket = (
        await a.client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
    ).json()
    async with b.client.stream(
        "GET", f"/api/v1/events/{event}/stream?ticket={ticket['ticket']}"
    ) as r:
        assert r.status_code == 200
        assert (await anext(events(r))).event == "snapshot"


async def test_redis_outage_delays_delivery_but_loses_nothing(
    pg_with_redis: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    proxy = TcpProxy(REDIS_HOST, REDIS_PORT)
    proxy.up()
    a_server, b_server = _pair(
        pg_with_redis, tmp_path_factory.mktemp("outage"), proxy.port, poll="3"
    )
    try:
        async with (
            httpx.AsyncClient(base_url=a_server.url, timeout=30) as ca,
            httpx.AsyncClient(base_url=b_server.url, timeout=30) as cb,
        ):
            a, b = Api(ca), Api(cb)
            owner = await a.user("owner")
            voters = [await a.user(f"v{i}") for i in range(30)]
            event = await a.event(owner, members=voters)
            proposal = await a.proposal(owner, event)
            await _wait_broker(a, "ok")
            inbox: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
            everything: list[Event] = []
            async with a.client.stream(
                "GET", f"/api/v1/events/{event}/stream", headers=owner.auth
            ) as r:
                reader = asyncio.create_task(_receive(r, inbox, everything))
                await _snapshot(inbox)
                await _vote(b, event, proposal, voters[:5])
                proxy.down()
                await _wait_broker(a, "reconnecting")
                await _vote(b, event, proposal, voters[5:25])
                proxy.up()
                await _wait_broker(a, "ok")
                await _wait_broker(b, "ok")
                latencies = []
                for voter in voters[25:]:
                    sent = time.monotonic()
                    await _vote(b, event, proposal, [voter])
                    seen = [await _next_live(inbox, 10)]
                    while seen[-1][1].data["data"]["user"]["id"] != voter.id:
                        seen.append(await _next_live(inbox, 10))
                    latencies.append(seen[-1][0] - sent)
                reader.cancel()
            assert all(latency < 1.0 for latency in latencies), latencies  # the fast path is back
            # The client of A, connected throughout, got every vote once and in order.
            assert everything[0].event == "snapshot"
            ids = [e.id for e in everything[1:]]
            assert ids == list(range(everything[0].id + 1, everything[0].id + 31))
            assert {e.data["data"]["user"]["id"] for e in everything[1:]} == {v.id for v in voters}
    finally:
        a_server.stop()
        b_server.stop()
        proxy.close()


async def _vote(api: Api, event: str, proposal: str, voters: list[User]) -> None:
    for voter in voters:
        assert (
            await api.client.post(api.vote_url(event, proposal), headers=voter.auth)
        ).status_code == 201


async def _wait_broker(api: Api, status: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        ready = (await api.client.get("/readyz")).json()
        if ready["checks"]["broker"] == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"broker never became {status}")


@pytest.mark.parametrize("how", ["logout", "everywhere"])
async def test_a_session_ended_on_b_ends_its_streams_on_a(
    clients: tuple[Api, Api], how: str
) -> None:
    """The end of a login session is no event's message: the broker carries it to every
    instance on a channel of its own."""
    a, b = clients
    owner, event, _ = await _setup(a)
    url = f"/api/v1/events/{event}/stream"
    inbox: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
    everything: list[Event] = []
    async with a.client.stream("GET", url, headers=owner.auth) as r:
        reader = asyncio.create_task(_receive(r, inbox, everything))
        await _snapshot(inbox)
        path = "/api/v1/auth/logout" if how == "logout" else "/api/v1/me/sessions/revoke"
        assert (await b.client.post(path, headers=owner.auth)).status_code == 204
        ended = time.monotonic()
        await asyncio.wait_for(reader, 5)  # the stream ends: the reader runs out
        assert time.monotonic() - ended < 1.0, f"took {time.monotonic() - ended:.2f} s"
    assert [m.event for m in everything] == ["snapshot"]
    refused = await a.client.get(url, headers=owner.auth)
    assert refused.status_code == 401


async def test_a_removal_on_b_ends_the_members_stream_on_a(clients: tuple[Api, Api]) -> None:
    a, b = clients
    owner, event, _ = await _setup(a)
    member = await a.user("member")
    membership = await a.join(owner, event, member)
    inbox: asyncio.Queue[tuple[float, Event]] = asyncio.Queue()
    url = f"/api/v1/events/{event}/stream"
    async with a.client.stream("GET", url, headers=member.auth) as r:
        reader = asyncio.create_task(_receive(r, inbox))
        await _snapshot(inbox)
        removed = await b.client.delete(
            f"/api/v1/events/{event}/memberships/{membership}", headers=owner.auth
        )
        assert removed.status_code == 204
        sent = time.monotonic()
        _, message = await _next_live(inbox, 5)
        assert message.event == "membership.removed"
        await asyncio.wait_for(reader, 5)  # the stream ends: the reader runs out
        assert time.monotonic() - sent < 1.0, f"took {time.monotonic() - sent:.2f} s"
    refused = await a.client.get(url, headers=member.auth)
    assert refused.status_code == 403
