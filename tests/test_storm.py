"""A reconnect storm on one real server: the moment after a deploy or a crash, when every
client comes back at once, each with a Last-Event-ID a few entries back.

500 SSE and 500 WebSocket clients (real sockets: a small raw-socket SSE client, the
websockets client) are all started in the same instant. Every one of them must connect
(no refusal, no timeout), catch up on exactly the entries it missed, and then receive
each new entry exactly once.
"""

import asyncio
import json
import resource
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect as ws_connect

from tests.api import Api, User
from tests.services import Backend, Server, start_server

pytestmark = pytest.mark.slow

SSE_CLIENTS = 500
WS_CLIENTS = 500
USERS = 10  # the clients share them: the per-user cap is raised to fit
BEHIND = 3  # entries each client missed
LIVE_VOTES = 3
DEADLINE = 180  # seconds for every client to catch up: a loaded 2-core machine is slow


def raise_open_file_limit(needed: int) -> None:
    """Both ends of 1,000 sockets: the server process inherits the limit at its start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"open-file limit {hard} is below the {needed} the storm needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.fixture(scope="module")
def storm_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    raise_open_file_limit(4 * (SSE_CLIENTS + WS_CLIENTS) + 1024)
    per_user = (SSE_CLIENTS + WS_CLIENTS) // USERS
    server = start_server(
        backend, tmp_path_factory.mktemp("storm"), QUORUM_MAX_STREAMS_PER_USER=str(per_user)
    )
    yield server
    server.stop()


@pytest.fixture
async def api_for_storm(storm_server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=storm_server.url, timeout=60) as client:
        yield Api(client)


def sample(metrics: str, metric: str, **labels: str) -> float:
    """A sample's value in a /metrics page (0 if absent)."""
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def sse_client(server: Server, event: str, user: User, after: int, seen: list[int]) -> None:
    """GET the stream with Last-Event-ID over a plain socket; every ``id:`` field read is
    appended to ``seen``. Reads the chunked body until cancelled."""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            (
                f"GET /api/v1/events/{event}/stream HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Authorization: {user.auth['Authorization']}\r\nLast-Event-ID: {after}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        assert head.startswith("HTTP/1.1 200 "), head
        assert "transfer-encoding: chunked" in head.lower(), head
        pending = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return  # the server ended the stream
            *lines, pending = (pending + chunk[:-2]).split(b"\n")
            seen.extend(int(line[3:]) for line in lines if line.startswith(b"id:"))
    finally:
        writer.close()


async def ws_client(server: Server, event: str, user: User, after: int, seen: list[int]) -> None:
    """The WebSocket with ``?last_event_id=``; every entry's seq is appended to ``seen``."""
    url = server.url.replace("http", "ws", 1) + f"/api/v1/events/{event}/ws?last_event_id={after}"
    async with ws_connect(url, additional_headers=user.auth, compression=None) as ws:
        async for frame in ws:
            message = json.loads(frame)
            if message["type"] == "snapshot":
                raise AssertionError("resumed with a snapshot, not the missed entries")
            if "seq" in message:
                seen.append(message["seq"])


async def all_reach(clients: list[asyncio.Task[None]], seen: list[list[int]], last: int) -> None:
    """Until every client has read entry ``last``; a client that failed fails the test."""
    deadline = time.monotonic() + DEADLINE
    while any(not s or s[-1] < last for s in seen):
        for task in clients:
            if task.done():
                task.result()  # raises what ended it
                raise AssertionError("a stream ended before it caught up")
        behind = sum(1 for s in seen if not s or s[-1] < last)
        assert time.monotonic() < deadline, f"{behind} clients never reached entry {last}"
        await asyncio.sleep(0.2)


async def resume_reads(api: Api) -> float:
    """How many reads of the log have answered resuming streams (quorum/realtime/log.py)."""
    metrics = (await api.client.get("/metrics")).text
    return sample(metrics, "quorum_batch_queries_total", name="stream_resume")


async def last_seq(api: Api, user: User, event: str) -> int:
    r = await api.client.get(f"/api/v1/events/{event}", headers=user.auth)
    return int(r.json()["last_seq"])


async def test_every_client_of_a_reconnect_storm_gets_every_entry_exactly_once(
    storm_server: Server, api_for_storm: Api
) -> None:
    api = api_for_storm
    users = [await api.user(f"storm{i}") for i in range(USERS)]
    owner = users[0]
    event = await api.event(owner, members=users[1:])
    proposal = await api.proposal(owner, event)
    for i in range(BEHIND):
        await api.comment(owner, event, proposal, f"before the storm {i}")
    caught_up = await last_seq(api, owner, event)
    total = SSE_CLIENTS + WS_CLIENTS
    after = [caught_up - 1 - i % BEHIND for i in range(total)]  # 1 to BEHIND entries back
    reads_before = await resume_reads(api)

    seen: list[list[int]] = [[] for _ in range(total)]
    clients = [
        asyncio.create_task(
            (sse_client if i < SSE_CLIENTS else ws_client)(
                storm_server, event, users[i % USERS], after[i], seen[i]
            )
        )
        for i in range(total)  # all started in the same instant
    ]
    try:
        await all_reach(clients, seen, caught_up)
        missed = [list(range(a + 1, caught_up + 1)) for a in after]
        wrong = [(i, s) for i, s in enumerate(seen) if s != missed[i]]
        assert not wrong, f"{len(wrong)} clients did not get exactly what they missed: {wrong[:3]}"
        reads = await resume_reads(api) - reads_before
        assert 1 <= reads <= total / 5, f"{reads} log reads for {total} resuming streams"

        for voter in users[1 : 1 + LIVE_VOTES]:
            r = await api.client.post(api.vote_url(event, proposal), headers=voter.auth)
            assert r.status_code == 201, r.text
        final = await last_seq(api, owner, event)
        await all_reach(clients, seen, final)
        wrong = [(i, s) for i, s in enumerate(seen) if s != list(range(after[i] + 1, final + 1))]
        assert not wrong, f"{len(wrong)} clients lost or doubled entries: {wrong[:3]}"
    finally:
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
