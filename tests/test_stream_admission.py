"""A stream's handshake: one access check, after it subscribed, is both the route's answer
and the stream's admission (quorum/decisions/eviction.py). Each refusal keeps its exact
status and code on both routes, an admin's stream still sees what admins see, and the
handshakes of a storm share their access queries (docs/realtime.md, "Reconnect storm")."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.api import PASSWORD, Api, User
from tests.services import Backend, Server, start_server
from tests.test_storm import raise_open_file_limit, sample

STORM = 300
PROBLEM_JSON = "application/problem+json"


async def sse_refusal(api: Api, url: str, headers: dict[str, str]) -> tuple[int, str]:
    async with api.client.stream("GET", url, headers=headers) as r:
        body = await r.aread()
        assert r.headers["content-type"].startswith(PROBLEM_JSON), (r.status_code, body)
        return r.status_code, json.loads(body)["code"]


async def ws_refusal(server: Server, path: str, headers: dict[str, str]) -> tuple[int, str]:
    url = server.url.replace("http", "ws", 1) + path
    with pytest.raises(InvalidStatus) as denied:
        async with ws_connect(url, additional_headers=headers):
            pass
    response = denied.value.response
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response
    return response.status_code, json.loads(response.body)["code"]


async def logged_in_again(api: Api, user: User) -> User:
    r = await api.client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return User(user.id, user.email, r.json()["access_token"], user.name)


async def test_every_refusal_keeps_its_status_and_code_on_both_routes(
    api: Api, server: Server
) -> None:
    owner, stranger = await api.user("owner"), await api.user("stranger")
    event, other, deleted = await api.event(owner), await api.event(owner), await api.event(owner)
    r = await api.client.delete(f"/api/v1/events/{deleted}", headers=owner.auth)
    assert r.status_code == 204, r.text
    logged_out = await logged_in_again(api, owner)
    r = await api.client.post("/api/v1/auth/logout", headers=logged_out.auth)
    assert r.status_code == 204, r.text
    gone = await api.user("gone")
    r = await api.client.request(
        "DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=gone.auth
    )
    assert r.status_code == 204, r.text
    ticket = (
        await api.client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
    ).json()["ticket"]

    cases = [
        (event, "", stranger.auth, (403, "not_a_member")),
        (str(uuid.uuid4()), "", owner.auth, (404, "event_not_found")),
        (deleted, "", owner.auth, (404, "event_not_found")),
        (event, "", logged_out.auth, (401, "session_revoked")),
        (event, "", gone.auth, (401, "user_not_found")),
        (other, f"?ticket={ticket}", {}, (403, "ticket_wrong_event")),
    ]
    for event_id, query, headers, expected in cases:
        sse = await sse_refusal(api, f"/api/v1/events/{event_id}/stream{query}", headers)
        ws = await ws_refusal(server, f"/api/v1/events/{event_id}/ws{query}", headers)
        assert (sse, ws) == (expected, expected), (event_id, query)


async def test_a_refused_handshake_gives_back_its_slot(api: Api, server: Server) -> None:
    """The stream's slot (the per-user cap, 10 here) is taken before the check: each
    refusal gives it back, and it is no open stream."""
    owner, stranger = await api.user("owner"), await api.user("stranger")
    event = await api.event(owner)
    for _ in range(6):  # 12 refusals: past the cap of 10, were a slot kept
        assert await sse_refusal(api, f"/api/v1/events/{event}/stream", stranger.auth) == (
            403,
            "not_a_member",
        )
        path = f"/api/v1/events/{event}/ws"
        assert await ws_refusal(server, path, stranger.auth) == (403, "not_a_member")
    metrics = (await api.client.get("/metrics")).text
    assert sample(metrics, "quorum_stream_connections", transport="sse") == 0
    assert sample(metrics, "quorum_stream_connections", transport="ws") == 0
    await api.join(owner, event, stranger)
    url = f"/api/v1/events/{event}/stream"
    async with api.client.stream("GET", url, headers=stranger.auth) as r:
        assert r.status_code == 200


async def test_an_admins_stream_sees_hidden_tallies_and_a_members_does_not(api: Api) -> None:
    """The audience comes from the admission's answer: the role, as before."""
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, hidden_tallies=True)
    await api.join(owner, event, member)
    proposal = await api.proposal(owner, event)
    r = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
    assert r.status_code == 201, r.text

    async def first_proposal(user: User) -> dict[str, object]:
        url = f"/api/v1/events/{event}/stream"
        async with api.client.stream("GET", url, headers=user.auth) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    data = json.loads(line[5:])["data"]
                    proposals: list[dict[str, object]] = data["proposals"]
                    return proposals[0]
        raise AssertionError("no snapshot")

    assert (await first_proposal(owner))["vote_count"] == 1
    assert (await first_proposal(member))["vote_count"] is None


@pytest.fixture(scope="module")
def storm_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    raise_open_file_limit(4 * STORM + 1024)
    server = start_server(
        backend, tmp_path_factory.mktemp("admission"), QUORUM_MAX_STREAMS_PER_USER=str(STORM)
    )
    yield server
    server.stop()


@pytest.fixture
async def storm_api(storm_server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=storm_server.url, timeout=60) as client:
        yield Api(client)


async def open_sse(server: Server, event: str, user: User) -> asyncio.StreamWriter:
    """A stream over a plain socket, once its response has started (200): the handshake,
    and so its admission, is over."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"GET /api/v1/events/{event}/stream HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: {user.auth['Authorization']}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    assert head.startswith("HTTP/1.1 200 "), head
    return writer


async def test_a_storm_of_handshakes_shares_its_access_queries(
    storm_server: Server, storm_api: Api
) -> None:
    """300 streams opened at once: every one is admitted, in far fewer queries."""
    owner, member = await storm_api.user("owner"), await storm_api.user("member")
    event = await storm_api.event(owner)
    await storm_api.join(owner, event, member)
    name, label = "quorum_batch_queries_total", {"name": "stream_admission"}
    before = (await storm_api.client.get("/metrics")).text
    writers = await asyncio.wait_for(
        asyncio.gather(
            *(open_sse(storm_server, event, (owner, member)[i % 2]) for i in range(STORM))
        ),
        120,
    )
    try:
        after = (await storm_api.client.get("/metrics")).text
        queries = sample(after, name, **label) - sample(before, name, **label)
        lookups = sample(after, "quorum_batched_lookups_total", **label) - sample(
            before, "quorum_batched_lookups_total", **label
        )
        assert lookups == STORM
        assert 1 <= queries <= STORM / 5, f"{queries} admission queries for {STORM} streams"
    finally:
        for writer in writers:
            writer.close()
