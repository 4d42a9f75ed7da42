"""``quorum serve --workers 2`` on the embedded default, without Redis: every subscriber
gets every event, whichever worker process it is connected to and whichever one
committed the change (the workers tail the log)."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.api import Api, User
from tests.services import Backend, Server, create_backend, start_server
from tests.sse import Event, events

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

STREAMS = 8
VOTERS = 20


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    backend: Backend = create_backend("sqlite", tmp_path_factory.mktemp("workers"))
    server = start_server(
        backend, tmp_path_factory.mktemp("logs"), cli_args=["serve", "--workers", "2"]
    )
    yield server
    server.stop()


async def test_every_stream_gets_every_event_across_workers(two_workers: Server) -> None:
    async with httpx.AsyncClient(base_url=two_workers.url, timeout=30) as setup:
        api = Api(setup)
        owner = await api.user("owner")
        voters = [await api.user(f"v{i}") for i in range(VOTERS)]
        event = await api.event(owner, members=voters)
        proposal = await api.proposal(owner, event)

    async def listen(received: list[Event], started: asyncio.Event) -> None:
        # A client of its own: a new connection, accepted by either worker.
        async with httpx.AsyncClient(base_url=two_workers.url, timeout=30) as client:
            async with client.stream(
                "GET", f"/api/v1/events/{event}/stream", headers=owner.auth
            ) as r:
                async for message in events(r):
                    received.append(message)
                    started.set()  # the snapshot is in: later changes reach this stream
                    if (
                        message.event == "vote.cast"
                        and message.data["data"]["vote_count"] == VOTERS
                    ):
                        return

    async def vote(voter: User) -> None:
        async with httpx.AsyncClient(base_url=two_workers.url, timeout=30) as client:
            r = await client.post(
                f"/api/v1/events/{event}/proposals/{proposal}/votes", headers=voter.auth
            )
            assert r.status_code == 201, r.text

    inboxes: list[list[Event]] = [[] for _ in range(STREAMS)]
    started = [asyncio.Event() for _ in inboxes]
    listeners = [
        asyncio.create_task(listen(inbox, ready))
        for inbox, ready in zip(inboxes, started, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in started)), 30)
    for voter in voters:
        await vote(voter)
    await asyncio.wait_for(asyncio.gather(*listeners), 20)

    for inbox in inboxes:
        snapshot, live = inbox[0], inbox[1:]
        assert snapshot.event == "snapshot"
        assert [e.id for e in live] == list(range(snapshot.id + 1, snapshot.id + VOTERS + 1))
