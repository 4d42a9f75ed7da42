"""The SSE stream and the WebSocket of an event, read over real connections from a real
server: ordering under concurrent writers, resume without loss, snapshot, auth, heartbeat."""

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect as ws_connect

from tests.api import Api, User
from tests.services import SECRET, Backend, Server, start_server
from tests.sse import Event, events, frames

CHANGES = 1000
WRITERS = 20
RETENTION = 500


@pytest.fixture(scope="module")
def live_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that prunes the log to its last RETENTION entries every half second and
    beats every half second, so retention and heartbeats can be observed."""
    server = start_server(
        backend,
        tmp_path_factory.mktemp("live"),
        QUORUM_LOG_RETENTION_COUNT=str(RETENTION),
        QUORUM_MAINTENANCE_INTERVAL_SECONDS="0.5",
        QUORUM_HEARTBEAT_INTERVAL_SECONDS="0.5",
    )
    yield server
    server.stop()


@pytest.fixture
async def live(live_server: Server) -> AsyncIterator[Api]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60, limits=limits) as client:
        yield Api(client)


def stream_url(event: str) -> str:
    return f"/api/v1/events/{event}/stream"


async def read_until(
    api: Api,
    user: User,
    event: str,
    last: int,
    *,
    headers: dict[str, str] | None = None,
    started: asyncio.Event | None = None,
) -> list[Event]:
    """Every event of one connection until seq ``last`` (snapshot included); ``started`` is
    set once the first message (the snapshot) has arrived."""
    got: list[Event] = []
    async with api.client.stream(
        "GET", stream_url(event), headers={**user.auth, **(headers or {})}
    ) as r:
        assert r.status_code == 200, await r.aread()
        async for message in events(r):
            got.append(message)
            if started is not None:
                started.set()
            if message.id is not None and message.id >= last:
                return got
    raise AssertionError(f"stream ended before seq {last}: {[e.id for e in got][-5:]}")


@pytest.mark.slow
async def test_concurrent_writers_reach_every_client_in_order_and_resume_without_loss(
    live: Api,
) -> None:
    owner = await live.user("owner")
    writers = [await live.user(f"w{i}") for i in range(WRITERS)]
    event = await live.event(owner, members=writers)
    proposal = await live.proposal(owner, event)
    start = (await live.client.get(f"/api/v1/events/{event}", headers=owner.auth)).json()[
        "last_seq"
    ]
    last = start + CHANGES

    async def write(writer: User, n: int) -> None:
        url = f"/api/v1/events/{event}/proposals/{proposal}/comments"
        for i in range(n):
            r = await live.client.post(url, json={"body": f"c{i}"}, headers=writer.auth)
            assert r.status_code == 201, r.text

    async def resuming_reader() -> list[int]:
        seen: list[int] = []
        position = start
        while position < last:
            headers = {**owner.auth, "Last-Event-ID": str(position)}
            async with live.client.stream("GET", stream_url(event), headers=headers) as r:
                quota = random.randint(1, 80)
                async for message in events(r):
                    assert message.event != "snapshot", "resumed within retention: no snapshot"
                    seen.append(message.id or 0)
                    position = message.id or position
                    quota -= 1
                    if quota == 0 or position >= last:
                        break
        return seen

    steady_started = asyncio.Event()
    steady = asyncio.create_task(read_until(live, owner, event, last, started=steady_started))
    # The resuming reader starts from ``start`` whenever it connects; the steady one
    # must have its snapshot before the first write.
    resuming = asyncio.create_task(resuming_reader())
    await asyncio.wait_for(steady_started.wait(), 30)
    await asyncio.gather(*(write(w, CHANGES // WRITERS) for w in writers))

    steady_events = await asyncio.wait_for(steady, 60)
    assert steady_events[0].event == "snapshot"
    assert steady_events[0].id is not None and steady_events[0].id <= start + 5
    live_ids = [e.id for e in steady_events[1:]]
    assert live_ids == list(range(steady_events[0].id + 1, last + 1))
    assert all(e.event == "comment.created" for e in steady_events[1:])
    assert await asyncio.wait_for(resuming, 60) == list(range(start + 1, last + 1))

    # Once the log has been pruned past it, an old position gets a fresh snapshot.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = await live.client.get(
            f"/api/v1/events/{event}/log?after={start}&limit=1", headers=owner.auth
        )
        if page.json()["items"][0]["seq"] > start + 1:
            break
        await asyncio.sleep(0.2)
    old = await read_until(live, owner, event, last, headers={"Last-Event-ID": str(start)})
    assert [(e.event, e.id) for e in old] == [("snapshot", last)]
    assert len(old[0].data["data"]["proposals"]) == 1


async def test_snapshot_then_live_then_resume_by_query_parameter(live: Api) -> None:
    owner = await live.user("owner")
    event = await live.event(owner)
    proposal = await live.proposal(owner, event)
    async with live.client.stream("GET", stream_url(event), headers=owner.auth) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-accel-buffering"] == "no"
        assert "no-cache" in r.headers["cache-control"]
        it = frames(r)
        retry = (await anext(it)).retry  # QUORUM_SSE_RETRY_MS, jittered up to twice it
        assert retry is not None and 3000 <= retry <= 6000
        snapshot = (await anext(it)).event
        assert snapshot is not None and snapshot.event == "snapshot"
        assert snapshot.data["data"]["event"]["id"] == event
        assert [p["id"] for p in snapshot.data["data"]["proposals"]] == [proposal]
        vote = await live.client.post(live.vote_url(event, proposal), headers=owner.auth)
        assert vote.status_code == 201
        frame = await anext(it)
        while frame.event is None:  # skip heartbeats
            frame = await anext(it)
        assert (frame.event.event, frame.event.id) == ("vote.cast", snapshot.id + 1)
        envelope = frame.event.data
        assert envelope["seq"] == frame.event.id and envelope["type"] == "vote.cast"
        assert envelope["data"]["vote_count"] == 1 and time.time() - envelope["t"] < 10

    url = f"{stream_url(event)}?last_event_id={snapshot.id}"
    async with live.client.stream("GET", url, headers=owner.auth) as r:
        first = await anext(events(r))
        assert (first.event, first.id) == ("vote.cast", snapshot.id + 1)


async def test_heartbeat_at_configured_interval(live: Api) -> None:
    owner = await live.user("owner")
    event = await live.event(owner)
    beats: list[float] = []
    async with live.client.stream("GET", stream_url(event), headers=owner.auth) as r:
        async for frame in frames(r):
            if frame.comment is not None:
                beats.append(time.monotonic())
                if len(beats) == 4:
                    break
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert all(0.25 < gap < 1.0 for gap in gaps), gaps


async def test_stream_auth(live: Api) -> None:
    owner, stranger = await live.user("owner"), await live.user("stranger")
    event, other = await live.event(owner), await live.event(owner)

    async def status(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        async with live.client.stream("GET", url, headers=headers) as r:
            body = json.loads(await r.aread())
            assert r.headers["content-type"] == "application/problem+json"
            return r.status_code, body["code"]

    assert await status(stream_url(event)) == (401, "not_authenticated")
    assert await status(stream_url(event), {"Authorization": "Bearer nope"}) == (
        401,
        "invalid_token",
    )
    assert await status(stream_url(event), stranger.auth) == (403, "not_a_member")
    assert (await status(stream_url(event), {**owner.auth, "Last-Event-ID": "x"}))[1] == (
        "invalid_last_event_id"
    )

    ticket = (
        await live.client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
    ).json()
    assert ticket["expires_in"] == 300
    assert await status(f"{stream_url(other)}?ticket={ticket['ticket']}") == (
        403,
        "ticket_wrong_event",
    )
    assert (
        await live.client.post(f"/api/v1/events/{event}/stream-tickets", headers=stranger.auth)
    ).status_code == 403
    expired = jwt.encode(
        {"sub": owner.id, "aud": "quorum:stream", "evt": event, "exp": int(time.time()) - 5},
        SECRET,
        algorithm="HS256",
    )
    assert await status(f"{stream_url(event)}?ticket={expired}") == (401, "token_expired")
    access_token_as_ticket = owner.token
    assert (await status(f"{stream_url(event)}?ticket={access_token_as_ticket}"))[0] == 401

    # A valid ticket works for every reconnect (same URL, Last-Event-ID), not once.
    for _ in range(2):
        url = f"{stream_url(event)}?ticket={ticket['ticket']}"
        async with live.client.stream("GET", url, headers={"Last-Event-ID": "0"}) as r:
            assert r.status_code == 200


async def test_websocket_same_messages_and_resume(live: Api, live_server: Server) -> None:
    owner = await live.user("owner")
    event = await live.event(owner)
    proposal = await live.proposal(owner, event)
    ticket = (
        await live.client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
    ).json()
    url = (
        live_server.url.replace("http", "ws")
        + f"/api/v1/events/{event}/ws?ticket={ticket['ticket']}"
    )

    async def next_message(ws) -> dict:  # type: ignore[no-untyped-def]
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("type") != "heartbeat":
                return frame

    async with ws_connect(url) as ws:
        snapshot = await next_message(ws)
        assert snapshot["type"] == "snapshot"
        assert (
            await live.client.post(live.vote_url(event, proposal), headers=owner.auth)
        ).status_code == 201
        vote = await next_message(ws)
        assert (vote["type"], vote["seq"]) == ("vote.cast", snapshot["seq"] + 1)
        # Behind what this connection sent: a fresh snapshot supersedes, nothing is repeated.
        await ws.send(json.dumps({"resume_from": snapshot["seq"] - 1}))
        fresh = await next_message(ws)
        assert (fresh["type"], fresh["seq"]) == ("snapshot", vote["seq"])
        assert fresh["data"]["proposals"][0]["vote_count"] == 1

    bad = live_server.url.replace("http", "ws") + f"/api/v1/events/{event}/ws"
    with pytest.raises(Exception) as denied:  # noqa: B017 - the client raises its own type
        async with ws_connect(bad):
            pass
    assert "401" in str(denied.value)
