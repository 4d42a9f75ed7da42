"""Abuse limits on a real server: the login and registration rate limit (per client IP,
and per username for logins; in memory or in Redis, failing open without Redis), and
the cap on one user's concurrent streams (SSE and WebSocket together).

These servers trust X-Forwarded-For from 127.0.0.1 (``QUORUM_FORWARDED_ALLOW_IPS``, as
behind a proxy), so a test stands for many clients by sending it. By default Quorum
trusts no proxy (tests/test_client_address.py).
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api import PASSWORD, Api, User, problem
from tests.services import (
    REDIS_URL,
    Backend,
    Server,
    create_backend,
    free_port,
    redis_reachable,
    start_server,
)

LIMIT = 5
TRUSTED_PROXY = "127.0.0.1"  # the tests stand in for a proxy on this host
MAX_STREAMS = 10


def client_ip() -> str:
    """A fresh client address (IPv6 documentation range), never seen by any run before."""
    h = uuid.uuid4().hex
    return f"2001:db8:{h[0:4]}:{h[4:8]}:{h[8:12]}:{h[12:16]}:{h[16:20]}:{h[20:24]}"


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


@pytest.fixture(scope="module")
def limited_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        backend,
        tmp_path_factory.mktemp("limited"),
        QUORUM_AUTH_RATE_LIMIT=f"{LIMIT}/minute",
        QUORUM_FORWARDED_ALLOW_IPS=TRUSTED_PROXY,
    )
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def api_for(server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Api(client)


async def register(api: Api, ip: str, email: str | None = None) -> httpx.Response:
    email = email or f"u-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "u"}
    return await api.client.post("/api/v1/auth/register", json=body, headers=from_ip(ip))


async def login(api: Api, ip: str, email: str, password: str = PASSWORD) -> httpx.Response:
    form = {"username": email, "password": password}
    return await api.client.post("/api/v1/auth/token", data=form, headers=from_ip(ip))


def assert_rate_limited(r: httpx.Response) -> None:
    problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers


async def test_sixth_login_from_one_client_is_429_with_retry_after(
    limited_server: Server,
) -> None:
    async with api_for(limited_server) as api:
        email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        assert (await register(api, client_ip(), email)).status_code == 201
        ip = client_ip()
        for _ in range(LIMIT):
            problem(await login(api, ip, email, "wrong password"), 401, "invalid_credentials")
        assert_rate_limited(await login(api, ip, email))  # even with the right password
        # another client, another user: not affected
        other = f"other-{uuid.uuid4().hex[:8]}@example.com"
        assert (await register(api, client_ip(), other)).status_code == 201
        assert (await login(api, client_ip(), other)).status_code == 200


async def test_logins_to_one_account_are_limited_across_clients(limited_server: Server) -> None:
    async with api_for(limited_server) as api:
        email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
        assert (await register(api, client_ip(), email)).status_code == 201
        for _ in range(LIMIT):
            problem(await login(api, client_ip(), email, "guess"), 401, "invalid_credentials")
        assert_rate_limited(await login(api, client_ip(), f"  {email.upper()} "))


async def test_sixth_registration_from_one_client_is_429(limited_server: Server) -> None:
    async with api_for(limited_server) as api:
        ip = client_ip()
        for _ in range(LIMIT):
            assert (await register(api, ip)).status_code == 201
        assert_rate_limited(await register(api, ip))
        assert (await register(api, client_ip())).status_code == 201


async def test_off_disables_the_limit(api: Api) -> None:
    """The suite's default server runs with QUORUM_AUTH_RATE_LIMIT=off."""
    ip = client_ip()
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(3 * LIMIT):
        problem(await login(api, ip, email), 401, "invalid_credentials")
    for _ in range(LIMIT + 1):
        assert (await register(api, ip)).status_code == 201


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """Where the limiter keeps its counts does not depend on the database: one backend."""
    return create_backend("sqlite", tmp_path_factory.mktemp("limit-storage"))


@pytest.mark.slow
async def test_redis_shares_the_limit_between_instances(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    redis_reachable()
    logs = tmp_path_factory.mktemp("redis-limit")
    env = {
        "QUORUM_AUTH_RATE_LIMIT": f"{LIMIT}/minute",
        "QUORUM_REDIS_URL": REDIS_URL,
        "QUORUM_FORWARDED_ALLOW_IPS": TRUSTED_PROXY,
    }
    a, b = await asyncio.gather(
        *(asyncio.to_thread(start_server, sqlite, logs, **env) for _ in range(2))
    )
    try:
        async with api_for(a) as api_a, api_for(b) as api_b:
            ip, email = client_ip(), f"u-{uuid.uuid4().hex[:8]}@example.com"
            for i in range(LIMIT):
                r = await login(api_a if i % 2 else api_b, ip, email)
                problem(r, 401, "invalid_credentials")
            assert_rate_limited(await login(api_a, ip, email))
            assert_rate_limited(await login(api_b, ip, email))
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
async def test_unreachable_limit_storage_fails_open(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With the limiter's Redis down, logins still work (and are not limited)."""
    server = start_server(
        sqlite,
        tmp_path_factory.mktemp("no-redis"),
        QUORUM_AUTH_RATE_LIMIT=f"{LIMIT}/minute",
        QUORUM_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        QUORUM_FORWARDED_ALLOW_IPS=TRUSTED_PROXY,
    )
    try:
        async with api_for(server) as api:
            ip, email = client_ip(), f"u-{uuid.uuid4().hex[:8]}@example.com"
            assert (await register(api, ip, email)).status_code == 201
            for _ in range(LIMIT + 2):
                assert (await login(api, ip, email)).status_code == 200
        assert "rate_limit_storage_unavailable" in server.log()
    finally:
        server.stop()


# --- concurrent streams per user --------------------------------------------------------


def sse_url(event: str) -> str:
    return f"/api/v1/events/{event}/stream"


async def open_sse(
    stack: contextlib.AsyncExitStack, api: Api, user: User, event: str, *, patient: bool = False
) -> None:
    """Open a stream and keep it open; ``patient``: while streams just closed still hold
    their slots (the server notices a closed stream within moments), try again."""
    for _ in range(50 if patient else 1):
        r = await stack.enter_async_context(
            api.client.stream("GET", sse_url(event), headers=user.auth)
        )
        if r.status_code != 429:
            break
        await r.aread()
        await asyncio.sleep(0.1)
    assert r.status_code == 200, await r.aread()


async def sse_status(api: Api, user: User, event: str) -> httpx.Response:
    async with api.client.stream("GET", sse_url(event), headers=user.auth) as r:
        if r.status_code == 200:
            return r
        await r.aread()
        return r


async def ws_url(api: Api, server: Server, user: User, event: str) -> str:
    r = await api.client.post(f"/api/v1/events/{event}/stream-tickets", headers=user.auth)
    ticket = r.json()["ticket"]
    return server.url.replace("http", "ws") + f"/api/v1/events/{event}/ws?ticket={ticket}"


async def eventually_opens(api: Api, user: User, event: str) -> None:
    """The server notices a closed stream within moments; until then the cap still holds."""
    for _ in range(50):
        r = await sse_status(api, user, event)
        if r.status_code == 200:
            return
        problem(r, 429, "too_many_streams")
        await asyncio.sleep(0.1)
    raise AssertionError("the closed stream's slot was never given back")


async def test_eleventh_stream_of_a_user_is_429_until_one_closes(api: Api, server: Server) -> None:
    user, other = await api.user("streamer"), await api.user("other")
    event = await api.event(user, members=[other])
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(MAX_STREAMS - 1):
            await open_sse(stack, api, user, event)
        ws = await stack.enter_async_context(ws_connect(await ws_url(api, server, user, event)))
        assert json.loads(await ws.recv())["type"] == "snapshot"

        assert_retry_after(problem_response(await sse_status(api, user, event), 429))
        with pytest.raises(InvalidStatus) as denied:
            async with ws_connect(await ws_url(api, server, user, event)):
                pass
        assert denied.value.response.status_code == 429
        assert 1 <= int(denied.value.response.headers["Retry-After"]) <= 60
        assert json.loads(denied.value.response.body)["code"] == "too_many_streams"
        assert (await sse_status(api, other, event)).status_code == 200  # per user

        await ws.close()  # a WebSocket gives its slot back ...
        await eventually_opens(api, user, event)
    async with contextlib.AsyncExitStack() as stack:  # ... and so do closed SSE streams
        for _ in range(MAX_STREAMS):
            await open_sse(stack, api, user, event, patient=True)
        problem(await sse_status(api, user, event), 429, "too_many_streams")


def problem_response(r: httpx.Response, status: int) -> httpx.Response:
    problem(r, status, "too_many_streams" if status == 429 else "streams_full")
    return r


def assert_retry_after(r: httpx.Response) -> None:
    """A refused stream says when to come back, jittered within a few seconds."""
    assert 1 <= int(r.headers["Retry-After"]) <= 60, r.headers


PROCESS_STREAMS = 3


@pytest.fixture(scope="module")
def full_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server that holds at most ``PROCESS_STREAMS`` streams in all."""
    server = start_server(
        backend, tmp_path_factory.mktemp("full"), QUORUM_MAX_STREAMS=str(PROCESS_STREAMS)
    )
    yield server
    server.stop()


async def test_a_full_server_answers_503_and_close_1013_with_when_to_retry(
    full_server: Server,
) -> None:
    """Past the process's cap a stream gets a clear answer at once (never a timeout):
    SSE a 503 problem with Retry-After, a WebSocket a close 1013 (try again later) whose
    reason says the wait. Before it, and once a stream closes, streams open."""
    async with api_for(full_server) as api, contextlib.AsyncExitStack() as stack:
        users = [await api.user(f"u{i}") for i in range(PROCESS_STREAMS + 1)]
        event = await api.event(users[0], members=users[1:])
        for user in users[: PROCESS_STREAMS - 1]:
            await open_sse(stack, api, user, event)
        ws = await stack.enter_async_context(
            ws_connect(await ws_url(api, full_server, users[-2], event))
        )
        assert json.loads(await ws.recv())["type"] == "snapshot"

        newcomer = users[-1]  # a user of their own: the per-user cap is not what refuses
        r = await asyncio.wait_for(sse_status(api, newcomer, event), 10)
        assert_retry_after(problem_response(r, 503))
        async with ws_connect(await ws_url(api, full_server, newcomer, event)) as refused:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(refused.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        code, _, wait = closed.value.rcvd.reason.partition("; retry after ")
        assert code == "streams_full" and 1 <= int(wait.removesuffix(" s")) <= 60

        await ws.close()  # its slot is given back: the newcomer gets in
        for _ in range(50):
            r = await sse_status(api, newcomer, event)
            if r.status_code == 200:
                break
            problem_response(r, 503)
            await asyncio.sleep(0.1)
        assert r.status_code == 200, "the closed stream's slot was never given back"


# --- input size and shape --------------------------------------------------------------


@pytest.mark.parametrize("shape", ["array", "object"])
async def test_json_nested_ten_thousand_deep_is_400(api: Api, shape: str) -> None:
    """Refused by the parser (FastAPI turns its RecursionError into a 400): the app never
    sees it, and the worker's stack is safe."""
    user = await api.user()
    depth = 10_000
    body = "[" * depth + "]" * depth if shape == "array" else '{"a":' * depth + "1" + "}" * depth
    r = await api.client.post(
        "/api/v1/events",
        content=body,
        headers={**user.auth, "Content-Type": "application/json"},
    )
    problem(r, 400, "malformed_json")


@pytest.mark.parametrize("limit", ["101", "1000", "1" + "0" * 30, "0", "-1"])
async def test_every_list_refuses_oversized_pages(api: Api, limit: str) -> None:
    owner = await api.user()
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    base = f"/api/v1/events/{event}"
    for url in (
        "/api/v1/events",
        f"{base}/memberships",
        f"{base}/proposals",
        f"{base}/proposals/{proposal}/comments",
        f"{base}/log",
    ):
        r = await api.client.get(url, params={"limit": limit}, headers=owner.auth)
        problem(r, 422, "validation_error")
    r = await api.client.get(f"{base}/log", params={"after": str(2**63)}, headers=owner.auth)
    problem(r, 422, "validation_error")  # past BIGINT: was a 500 (found by schemathesis)


async def test_password_checks_of_one_user_are_limited_like_logins(limited_server: Server) -> None:
    """Changing the password and deleting the account prove the password: with a stolen
    token they would be a way to guess it, so they share the login's limit, per user."""
    async with api_for(limited_server) as api:
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        assert (await register(api, client_ip(), email)).status_code == 201
        token = (await login(api, client_ip(), email)).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        guess = {"current_password": "a guess", "new_password": "whatever new"}
        for _ in range(LIMIT):
            r = await api.client.post("/api/v1/me/password", json=guess, headers=auth)
            problem(r, 403, "wrong_password")
        right = {"password": PASSWORD}
        assert_rate_limited(
            await api.client.request("DELETE", "/api/v1/me", json=right, headers=auth)
        )
        assert (await api.client.get("/api/v1/me", headers=auth)).status_code == 200
