"""A client that stops reading is cut off once its queue bound is hit; a healthy client
on the same event keeps receiving every event, in order."""

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api import Api
from tests.services import Backend, Server, start_server
from tests.sse import Event, events

QUEUE_LIMIT = 20
CHANGES = 700
# Big messages (10 KB each) to get past the kernel's socket buffers, which on loopback
# grow to 4 MB, and uvicorn's own write buffer, so that the stalled stream's writer blocks.
BODY = "x" * 10_000


@pytest.fixture(scope="module")
def small_queue_server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    server = start_server(
        backend, tmp_path_factory.mktemp("slow"), QUORUM_STREAM_QUEUE_LIMIT=str(QUEUE_LIMIT)
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
    """True if the server closed the connection (EOF) before ``within`` seconds."""
    sock.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 20):
                return True
    except TimeoutError:
        return False
    return False


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

        async def healthy() -> None:
            async with client.stream("GET", path, headers=owner.auth) as r:
                async for message in events(r):
                    got.append(message)
                    if len(got) == CHANGES + 1:
                        return

        reader = asyncio.create_task(healthy())
        await asyncio.sleep(0.3)
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
