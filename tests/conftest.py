"""Fixtures: each backend (SQLite, PostgreSQL) gets a fresh migrated database and a real
server process for the whole session; tests talk to it over HTTP on 127.0.0.1."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.api import Api
from tests.browser import browser as browser  # the fixture, for the board's tests
from tests.services import (
    Backend,
    Server,
    create_backend,
    drop_backend,
    redis_reachable,
    start_server,
)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    created = create_backend(request.param, tmp_path_factory.mktemp(request.param))
    yield created
    drop_backend(created)


@pytest.fixture(scope="session")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(backend, tmp_path_factory.mktemp("logs"))
    yield started
    started.stop()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture(scope="module")
def pg_with_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """A fresh PostgreSQL database for scenarios that also need Redis (several servers)."""
    redis_reachable()
    backend = create_backend("postgresql", tmp_path_factory.mktemp("pg"))
    yield backend
    drop_backend(backend)
