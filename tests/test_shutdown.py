"""SIGTERM while streaming: the instance ends its streams cleanly and exits; the client
resumes on another instance with its Last-Event-ID and gets every event exactly once."""

import asyncio
import signal
import time

import httpx
import pytest

from tests.api import Api, User
from tests.services import REDIS_URL, Backend, start_server
from tests.sse import Event, events

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

VOTERS = 40


async def test_sigterm_ends_streams_cleanly_and_client_resumes_elsewhere(
    pg_with_redis: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("logs")
    env = {"QUORUM_REDIS_URL": REDIS_URL}
    a = start_server(pg_with_redis, logs, cli_args=["serve"], **env)  # the production entry point
    b = start_server(pg_with_redis, logs, **env)
    try:
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as client_b:
            api_b = Api(client_b)
            owner = await api_b.user("owner")
            voters = [await api_b.user(f"v{i}") for i in range(VOTERS)]
            event = await api_b.event(owner, members=voters)
            proposal = await api_b.proposal(owner, event)
            received: list[Event] = []
            stream = f"/api/v1/events/{event}/stream"

            async def vote_steadily(who: list[User]) -> None:
                for voter in who:
                    r = await client_b.post(api_b.vote_url(event, proposal), headers=voter.auth)
                    assert r.status_code == 201, r.text
                    await asyncio.sleep(0.05)

            async with httpx.AsyncClient(base_url=a.url, timeout=30) as client_a:
                async with client_a.stream("GET", stream, headers=owner.auth) as r:
                    voting = asyncio.create_task(vote_steadily(voters))
                    async for message in events(r):  # ends without error: a clean end
                        received.append(message)
                        if len(received) == 11:  # the snapshot and ten votes
                            a.process.send_signal(signal.SIGTERM)
            ended_at = time.monotonic()
            # uvicorn re-raises the signal once it has shut down: "killed by SIGTERM" is its
            # normal exit, reached only after the streams ended and the lifespan closed.
            assert a.process.wait(timeout=15) in (0, -signal.SIGTERM)
            assert "Application shutdown complete" in a.log()
            assert time.monotonic() - ended_at < 10

            resume = {**owner.auth, "Last-Event-ID": str(received[-1].id)}
            async with client_b.stream("GET", stream, headers=resume) as r:
                async for message in events(r):
                    received.append(message)
                    if message.data["data"]["vote_count"] == VOTERS:
                        break
            await voting
    finally:
        a.stop()
        b.stop()

    snapshot, live = received[0], received[1:]
    assert snapshot.event == "snapshot"
    # The first votes may already be in the snapshot: count from what it shows.
    counted = snapshot.data["data"]["proposals"][0]["vote_count"]
    assert [e.data["data"]["vote_count"] for e in live] == list(range(counted + 1, VOTERS + 1))
    assert [e.id for e in live] == list(range(snapshot.id + 1, snapshot.id + VOTERS - counted + 1))
