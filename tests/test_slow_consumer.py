"""A client that stops reading is cut off once its queue bound is hit; a healthy client
on the same event keeps receiving every event, in order. A client that never reads at
all is cut off at once too: its socket is reset and its stream slot given back, though
the server's writer was stuck in a write that could never finish."""

import asyncio
import base64
import contextlib
import os
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api import Api, User, problem
from tests.services import Backend, Server, start_server
from tests.sse import Event, events

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

QUEUE_LIMIT = 20
MAX_STREAMS = 3
CHANGES = 700
# Big messages (10 KB each) to get past the kernel's socket buffers, which on loopback
# grow to 4 MB, and uvicorn's own write buffer, so that the stalled stream's writer blocks.
BODY = "x" * 10_000


@pytest.fixture(scope="module")
def small_queue_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(
        backend,
        tmp_path_factory.mktemp("slow"),
        QUORUM_STREAM_QUEUE_LIMIT=str(QUEUE_LIMIT),
        QUORUM_MAX_STREAMS_PER_USER=str(MAX_STREAMS),
    )
    yield server
    server.stop()


def _stalled_stream(server: Server, path: str, token: str) -> socket.socket:
    """Open a stream and never read from it, with a tiny receive window."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = server.url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    return sock


def _drain_until_closed(sock: socket.socket, within: float) -> bool:
    """True if the server closed (EOF) or reset the connection before ``within`` seconds."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 20):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def _never_reading(server: Server, request: str) -> socket.socket:
    """Send ``request`` with a tiny receive window, read the response head, then nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(_address(server))
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: not one byte of the body is taken
        assert chunk, head
        head += chunk
    assert head.split()[1] in (b"200", b"101"), head
    return sock


def _address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _sse_request(server: Server, event: str, token: str) -> str:
    return (
        f"GET /api/v1/events/{event}/stream HTTP/1.1\r\nHost: {_address(server)[0]}\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    )


def _ws_request(server: Server, event: str, token: str) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /api/v1/events/{event}/ws HTTP/1.1\r\nHost: {_address(server)[0]}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {key}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )


def _hung_up(sock: socket.socket, within: float) -> bool:
    """Without reading anything: did the server end the connection within ``within`` s?
    Unsent data stands before a FIN, so with the client's window full only a reset can
    arrive; poll() reports it as an error or hang-up."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP)  # POLLERR and POLLHUP are always reported
    return bool(poller.poll(within * 1000))


def _dropped(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("quorum_slow_consumers_dropped_total "):
            return float(line.split()[1])
    return 0.0


async def test_stalled_client_is_dropped_and_healthy_one_gets_everything(
    small_queue_server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=small_queue_server.url, timeout=60) as client:
        api = Api(client)
        owner = await api.user("owner")
        event = await api.event(owner)
        path = f"/api/v1/events/{event}/stream"
        dropped_before = _dropped((await client.get("/metrics")).text)
        stalled = _stalled_stream(small_queue_server, path, owner.token)

        got: list[Event] = []
        subscribed = asyncio.Event()

        async def healthy() -> None:
            async with client.stream("GET", path, headers=owner.auth) as r:
                async for message in events(r):
                    got.append(message)
                    subscribed.set()  # the snapshot: every later change reaches this stream
                    if len(got) == CHANGES + 1:
                        return

        reader = asyncio.create_task(healthy())
        await asyncio.wait_for(subscribed.wait(), 30)
        url = f"/api/v1/events/{event}/proposals"
        for i in range(CHANGES):
            new = {"kind": "ASSUMPTION", "title": f"p{i}", "body": BODY}
            assert (await client.post(url, json=new, headers=owner.auth)).status_code == 201
        await asyncio.wait_for(reader, 30)

        assert got[0].event == "snapshot"
        assert [e.id for e in got[1:]] == list(range(got[0].id + 1, got[0].id + CHANGES + 1))
        assert _dropped((await client.get("/metrics")).text) >= dropped_before + 1
        closed = await asyncio.to_thread(_drain_until_closed, stalled, 10)
        stalled.close()
        assert closed, "the stalled stream was never closed by the server"


async def _publish_until_dropped(client: httpx.AsyncClient, user: User, event: str) -> None:
    """Big entries until the server reports a slow consumer dropped."""
    before = _dropped((await client.get("/metrics")).text)
    url = f"/api/v1/events/{event}/proposals"
    for batch in range(200):
        posts = [
            client.post(
                url,
                json={"kind": "ASSUMPTION", "title": f"p{batch}.{i}", "body": BODY},
                headers=user.auth,
            )
            for i in range(8)
        ]
        assert all(r.status_code == 201 for r in await asyncio.gather(*posts))
        if _dropped((await client.get("/metrics")).text) > before:
            return
    raise AssertionError("no slow consumer was dropped")


async def _open_streams(client: httpx.AsyncClient, user: User, event: str, n: int) -> None:
    """Open ``n`` streams of ``user`` at once; a 429 is retried for a few seconds, as the
    server may still be ending the dropped one."""
    deadline = time.monotonic() + 5
    async with contextlib.AsyncExitStack() as stack:
        opened = 0
        while opened < n:
            r = await stack.enter_async_context(
                client.stream("GET", f"/api/v1/events/{event}/stream", headers=user.auth)
            )
            if r.status_code == 200:
                opened += 1
                continue
            await r.aread()
            problem(r, 429, "too_many_streams")
            assert time.monotonic() < deadline, f"only {opened} of {n} streams could open"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("transport", ["sse", "ws"])
async def test_client_that_never_reads_is_reset_and_its_slot_freed(
    small_queue_server: Server, transport: str
) -> None:
    async with httpx.AsyncClient(base_url=small_queue_server.url, timeout=60) as client:
        api = Api(client)
        owner = await api.user("owner")
        event = await api.event(owner)
        request = _sse_request if transport == "sse" else _ws_request
        stalled = _never_reading(
            small_queue_server, request(small_queue_server, event, owner.token)
        )
        try:
            await _publish_until_dropped(client, owner, event)
            hung_up = await asyncio.to_thread(_hung_up, stalled, 5)
            assert hung_up, "the dropped stream's socket is still open"
            assert await asyncio.to_thread(_drain_until_closed, stalled, 5)
        finally:
            stalled.close()
        await _open_streams(client, owner, event, MAX_STREAMS)
