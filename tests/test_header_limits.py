"""Request heads of bounded size under ``quorum serve``: 431 Request Header Fields Too
Large (414 for an over-long request target) as soon as a request's head passes the
limit, the connection closed, and the server responsive to everyone else meanwhile.

uvicorn's default parser (httptools) has no limit: a single 100 MB header line was read
in full, 12 s and 370 MB later. These tests speak HTTP over raw sockets, because every
HTTP client refuses to send such requests, or buffers them.
"""

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.api import Api
from tests.services import Backend, Server, create_backend, start_server

KB = 1024
MAX_HEAD = 64 * KB  # the defaults: QUORUM_MAX_HEADER_BYTES ...
MAX_LINE = 16 * KB  # ... and QUORUM_MAX_HEADER_LINE_BYTES


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``quorum serve`` with its defaults, on SQLite: the limits are the HTTP layer's."""
    backend: Backend = create_backend("sqlite", tmp_path_factory.mktemp("header-limits"))
    started = start_server(backend, tmp_path_factory.mktemp("logs"), cli_args=["serve"])
    yield started
    started.stop()


def address(server: Server) -> tuple[str, int]:
    url = urlsplit(server.url)
    assert url.hostname and url.port
    return url.hostname, url.port


def exchange(server: Server, request: bytes, timeout: float = 10) -> tuple[bytes, bool]:
    """Send ``request`` on a fresh connection and read until the server closes it (or
    ``timeout``): what came back, and whether the server closed the connection."""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while we were still sending: the answer may be there already
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(64 * KB)
            except ConnectionResetError:
                return received, True
            except TimeoutError:
                return received, False
            if not chunk:
                return received, True
            received += chunk
        return received, False


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response[9:12])


def head(*headers: str, target: str = "/healthz", method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def test_a_4_mb_header_line_is_431_at_once_and_others_are_served(server: Server) -> None:
    outcome: dict[str, object] = {}

    def send_big() -> None:
        started = time.monotonic()
        outcome["response"], outcome["closed"] = exchange(
            server, head("X-Big: " + "a" * (4 * KB * KB), "Connection: keep-alive")
        )
        outcome["seconds"] = time.monotonic() - started

    sender = threading.Thread(target=send_big)
    sender.start()
    latencies = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        while sender.is_alive() or not latencies:
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
    sender.join()
    response = outcome["response"]
    assert isinstance(response, bytes)
    assert status(response) == 431, response[:300]
    assert json.loads(response.partition(b"\r\n\r\n")[2])["status"] == 431
    assert outcome["closed"], "the connection must be closed after a 431"
    assert float(outcome["seconds"]) < 5, outcome["seconds"]  # not after reading 4 MB first
    assert max(latencies) < 0.5, latencies


def test_many_medium_headers_past_the_total_are_431(server: Server) -> None:
    each = 8 * KB  # under the per-line limit, over the total in all
    headers = [f"X-Part-{i}: {'b' * each}" for i in range(MAX_HEAD // each + 1)]
    response, closed = exchange(server, head(*headers))
    assert status(response) == 431, response[:300]
    assert closed


def test_one_header_line_past_its_limit_is_431(server: Server) -> None:
    response, closed = exchange(server, head("X-Long: " + "c" * (MAX_LINE + 1)))
    assert status(response) == 431, response[:300]
    assert closed


def test_a_request_target_past_the_line_limit_is_414(server: Server) -> None:
    response, closed = exchange(server, head(target="/healthz?q=" + "d" * (MAX_LINE + 1)))
    assert status(response) == 414, response[:300]
    assert closed


def test_heads_under_the_limits_are_served_one_after_another(server: Server) -> None:
    """A few KB of headers, as browsers and proxies send; then, on one keep-alive
    connection, requests just under the limits: the count starts again per request."""
    cookies = "Cookie: " + "; ".join(f"c{i}={'e' * 200}" for i in range(10))
    response, _ = exchange(server, head(cookies, "X-Trace: " + "f" * 1000, "Connection: close"))
    assert status(response) == 200, response[:300]

    near = [f"X-Near-{i}: {'g' * (MAX_LINE - 100)}" for i in range(3)]  # ~48 KB, 16 KB lines
    with socket.create_connection(address(server), timeout=10) as sock:
        stream = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(head(*near))
            assert stream.readline().startswith(b"HTTP/1.1 200"), "keep-alive request refused"
            length = 0
            while (line := stream.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            stream.read(length)


def test_a_large_body_is_not_counted_as_head(server: Server) -> None:
    """Body bytes arriving with the head (one send) are the body's, limited by
    QUORUM_MAX_BODY_BYTES, not by the header limit."""
    body = json.dumps({"email": "x", "password": "p" * (512 * KB)}).encode()
    request = head(
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        target="/api/v1/auth/register",
        method="POST",
    )
    response, _ = exchange(server, request + body)
    assert status(response) == 422, response[:300]  # validated by the app, not refused


async def test_websockets_upgrade_within_the_limits_only(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        api = Api(client)
        owner = await api.user("ws")
        event = await api.event(owner)
        r = await client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
        url = server.url.replace("http", "ws") + f"/api/v1/events/{event}/ws"
        url += f"?ticket={r.json()['ticket']}"
    async with ws_connect(url, additional_headers={"X-Trace": uuid.uuid4().hex * 100}) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
    with pytest.raises(InvalidStatus) as refused:
        async with ws_connect(url, additional_headers={"X-Big": "h" * (MAX_LINE + 1)}):
            pass
    assert refused.value.response.status_code == 431
