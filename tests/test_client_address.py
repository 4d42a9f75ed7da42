"""Whose address is the client's: ``quorum serve`` believes X-Forwarded-For only from the
proxies named in ``QUORUM_FORWARDED_ALLOW_IPS``, none by default.

uvicorn's own default trusts 127.0.0.1, so any process on the same host could claim
any address and walk past the per-IP limits on login and registration. Each test
starts ``quorum serve`` itself and spends a registration budget of 3 per address.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api import PASSWORD
from tests.services import Backend, Server, create_backend, start_server

LIMIT = 3


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """Which address is believed does not depend on the database: one backend."""
    return create_backend("sqlite", tmp_path_factory.mktemp("client-address"))


async def register(client: httpx.AsyncClient, forwarded_for: str | None = None) -> int:
    body = {"email": f"u-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD}
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    r = await client.post(
        "/api/v1/auth/register", json={**body, "display_name": "u"}, headers=headers
    )
    return r.status_code


@contextlib.asynccontextmanager
async def serve(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory, **env: str
) -> AsyncIterator[httpx.AsyncClient]:
    server: Server = start_server(
        sqlite,
        tmp_path_factory.mktemp("serve"),
        cli_args=["serve"],
        QUORUM_AUTH_RATE_LIMIT=f"{LIMIT}/minute",
        **env,
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


async def test_forwarded_for_from_loopback_is_ignored_by_default(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with serve(sqlite, tmp_path_factory) as client:
        for _ in range(LIMIT):
            assert await register(client) == 201
        assert await register(client, "203.0.113.7") == 429  # the same client, really
        assert await register(client, "198.51.100.9, 203.0.113.8") == 429


async def test_forwarded_for_from_a_named_proxy_is_the_client(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with serve(sqlite, tmp_path_factory, QUORUM_FORWARDED_ALLOW_IPS="127.0.0.1") as client:
        for _ in range(LIMIT):
            assert await register(client) == 201
        assert await register(client) == 429  # the proxy's own address is spent ...
        for _ in range(LIMIT):  # ... and each forwarded client has its own budget
            assert await register(client, "203.0.113.7") == 201
        assert await register(client, "203.0.113.7") == 429
        assert await register(client, "203.0.113.8") == 201
