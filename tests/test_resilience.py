"""The database goes away and comes back: a real server process survives it.

A TCP proxy (tests/proxy.py) stands between the server and PostgreSQL. Taking it down
closes its listener and cuts every proxied connection, as a crashed or partitioned
database host would; or it keeps listening but answers every new connection with the
FATAL error PostgreSQL sends while it restarts (57P03) or has no slot left (53300). During
the outage the API answers 503 ``database_unavailable`` with Retry-After (never 500,
never a hang) and ``/readyz`` says 503; once it is over the same process serves again,
without a restart.
"""

import asyncio
import contextlib
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api import Api, User
from tests.proxy import TcpProxy
from tests.services import (
    PG_HOST,
    PG_PORT,
    Backend,
    Server,
    create_backend,
    drop_backend,
    start_server,
)

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

REQUEST_TIMEOUT = 15.0  # the server's own connect timeout is 5 s: anything longer is a hang
RECOVERY_TIMEOUT = 30.0


class Proxy(TcpProxy):
    """The TCP proxy to PostgreSQL, which can also play a PostgreSQL that refuses logins."""

    def __init__(self) -> None:
        super().__init__(PG_HOST, PG_PORT)
        self._refusal: tuple[str, str] | None = None

    def forward(self) -> None:
        self._refusal = None
        self.up()

    def refuse(self, sqlstate: str, message: str) -> None:
        """Cut every proxied connection, then answer each new one with a FATAL error."""
        self.down()
        self._refusal = (sqlstate, message)
        self.up()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusal is None:
            await super()._accept(reader, writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)  # so that ``down()`` ends it too
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, OSError):  # client hung up
                await _answer_fatal(reader, writer, *self._refusal)
        finally:
            self._pipes.discard(task)
            writer.close()


SSL_REQUEST = struct.pack("!i", 80877103)


async def _answer_fatal(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sqlstate: str, message: str
) -> None:
    """What PostgreSQL answers to a startup packet when it cannot take the connection."""
    packet = await _read_packet(reader)
    if packet[:4] == SSL_REQUEST:  # the client asks for TLS first: "N", no TLS here
        writer.write(b"N")
        await _read_packet(reader)
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    writer.write(b"E" + struct.pack("!i", 4 + len(fields) + 1) + fields + b"\0")
    await writer.drain()


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack("!i", await reader.readexactly(4))
    return await reader.readexactly(length - 4)


@pytest.fixture(scope="module")
def pg_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    created = create_backend("postgresql", tmp_path_factory.mktemp("resilience"))
    yield created
    drop_backend(created)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    started = Proxy()
    yield started
    started.close()


@contextlib.contextmanager
def server_via(proxy: Proxy, backend: Backend, log_dir: Path, **env: str) -> Iterator[Server]:
    assert backend.pg_database is not None
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{backend.pg_database}"
    server = start_server(backend, log_dir, QUORUM_DATABASE_URL=url, **env)
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def api_of(server: Server) -> AsyncIterator[Api]:
    # No keep-alive: a request must not race the server closing an idle connection.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=server.url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        yield Api(client)


def assert_unavailable(r: httpx.Response, code: str = "database_unavailable") -> None:
    assert r.status_code == 503, (r.request.url, r.text)
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["code"] == code, r.text
    assert int(r.headers["retry-after"]) > 0


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while (r := await client.get("/readyz")).status_code != 200:
        assert r.status_code == 503, r.text
        assert time.monotonic() < deadline, "the server did not become ready again"
        await asyncio.sleep(0.2)


async def requests_while_down(api: Api, user: User, event: str, proposal: str) -> None:
    """Every kind of request a client makes, several at once: each answers 503 in time."""
    c = api.client
    email = f"late-{uuid.uuid4().hex[:8]}@example.com"
    calls = [
        c.get("/api/v1/me", headers=user.auth),
        c.get(f"/api/v1/events/{event}", headers=user.auth),
        c.get(f"/api/v1/events/{event}/proposals", headers=user.auth),
        c.post(api.vote_url(event, proposal), headers={**user.auth, "Idempotency-Key": "k1"}),
        c.post("/api/v1/auth/register", json={"email": email, "password": "x" * 12,
                                              "display_name": "late"}),
        c.post("/api/v1/auth/token", data={"username": email, "password": "x" * 12}),
    ]  # fmt: skip
    async with asyncio.timeout(REQUEST_TIMEOUT):
        responses = await asyncio.gather(*calls, *(c.get("/api/v1/me", headers=user.auth)
                                                   for _ in range(10)))  # fmt: skip
    for r in responses:
        assert_unavailable(r)
    assert_unavailable(await c.get("/readyz"), "not_ready")
    assert (await c.get("/healthz")).status_code == 200


OUTAGES: dict[str, Callable[[Proxy], None]] = {
    "unreachable": Proxy.down,
    "starting_up": lambda proxy: proxy.refuse("57P03", "the database system is starting up"),
    "no_slot_left": lambda proxy: proxy.refuse("53300", "sorry, too many clients already"),
}


def assert_no_500(server: Server) -> None:
    log = server.log()
    assert "unhandled_error" not in log and "Exception in ASGI application" not in log, log


@pytest.mark.parametrize(
    ("outage", "pre_ping"),
    [("unreachable", "true"), ("unreachable", "false"), ("starting_up", "true"),
     ("no_slot_left", "true")],
)  # fmt: skip
async def test_database_outage_answers_503_then_recovers(
    pg_backend: Backend, proxy: Proxy, tmp_path: Path, outage: str, pre_ping: str
) -> None:
    proxy.forward()
    with server_via(proxy, pg_backend, tmp_path, QUORUM_DB_POOL_PRE_PING=pre_ping) as server:
        async with api_of(server) as api:
            owner, voter = await api.user("owner"), await api.user("voter")
            event = await api.event(owner, members=[voter])
            proposal = await api.proposal(owner, event)
            r = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
            assert r.status_code == 201, r.text

            comments = f"/api/v1/events/{event}/proposals/{proposal}/comments"
            in_flight = [
                asyncio.create_task(api.client.post(comments, json={"body": f"c{i}"},
                                                    headers=owner.auth))
                for i in range(30)
            ]  # fmt: skip
            await asyncio.sleep(0.05)
            OUTAGES[outage](proxy)  # some of those requests are cut mid-transaction
            async with asyncio.timeout(REQUEST_TIMEOUT):
                for r in await asyncio.gather(*in_flight):
                    assert r.status_code == 201 or r.json()["code"] == "database_unavailable", (
                        r.text
                    )
            await requests_while_down(api, voter, event, proposal)
            await requests_while_down(api, voter, event, proposal)  # again, once the pool knows

            proxy.forward()
            await wait_ready(api.client)
            r = await api.client.post(
                api.vote_url(event, proposal), headers={**voter.auth, "Idempotency-Key": "k1"}
            )
            assert r.status_code == 201, r.text
            assert "idempotent-replayed" not in r.headers  # the 503s stored nothing
            assert r.json()["proposal"]["vote_count"] == 2
        assert server.process.poll() is None
    assert_no_500(server)


async def test_server_started_without_database_waits_for_it(
    pg_backend: Backend, proxy: Proxy, tmp_path: Path
) -> None:
    with server_via(proxy, pg_backend, tmp_path, QUORUM_DB_CONNECT_RETRY_MAX_DELAY="1") as server:
        async with api_of(server) as api:
            assert (await api.client.get("/healthz")).status_code == 200
            assert_unavailable(await api.client.get("/readyz"), "not_ready")
            r = await api.client.post(
                "/api/v1/auth/register",
                json={"email": "early@example.com", "password": "x" * 12, "display_name": "e"},
            )
            assert_unavailable(r)
            await asyncio.sleep(2)  # time for a few retries of the background waiter
            assert server.process.poll() is None, server.log()
            assert "database_unreachable" in server.log()

            proxy.forward()
            await wait_ready(api.client)
            owner = await api.user("owner")
            event = await api.event(owner)
            proposal = await api.proposal(owner, event)
            r = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
            assert r.status_code == 201, r.text
            deadline = time.monotonic() + RECOVERY_TIMEOUT
            while "database_ready" not in server.log():  # the waiter got through too, and stopped
                assert time.monotonic() < deadline, server.log()
                await asyncio.sleep(0.2)
        assert server.process.poll() is None
    assert_no_500(server)
