"""PostgreSQL's safety nets: ``statement_timeout`` and
``idle_in_transaction_session_timeout`` on every connection (quorum/db/engine.py).

A request stuck behind a row lock that someone else holds is cancelled by the database
after QUORUM_DB_STATEMENT_TIMEOUT_SECONDS and answered 503 ``database_timeout`` with
Retry-After, never a hang nor a 500; once the lock is gone the same request succeeds.
A transaction left idle is ended by the server, and its row locks with it.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from quorum.db.engine import create_engine
from quorum.db.errors import is_timeout, is_unavailable
from quorum.settings import Settings
from tests.api import Api, problem
from tests.services import (
    PG_HOST,
    PG_PORT,
    SECRET,
    Backend,
    create_backend,
    drop_backend,
    start_server,
)

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

STATEMENT_TIMEOUT = 1.0
REQUEST_TIMEOUT = 15.0  # far above the statement timeout: anything longer is a hang


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        pytest.skip(
            "statement_timeout and idle_in_transaction_session_timeout are PostgreSQL's; on "
            "SQLite a writer waits for the write lock up to busy_timeout (30 s), then gets "
            "503 database_unavailable"
        )
    created = create_backend(request.param, tmp_path_factory.mktemp("timeouts"))
    yield created
    drop_backend(created)


def dsn(backend: Backend) -> str:
    return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{backend.pg_database}"


def settings(backend: Backend, **values: float) -> Settings:
    return Settings(_env_file=None, database_url=backend.url, secret_key=SECRET, **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, ("30s", "1min")),  # the defaults
        ({"db_statement_timeout_seconds": 2.5, "db_idle_in_transaction_timeout_seconds": 0},
         ("2500ms", "0")),
    ],
)  # fmt: skip
async def test_every_connection_carries_the_timeouts(
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, float],
    expected: tuple[str, str],
) -> None:
    for name in ("STATEMENT_TIMEOUT_SECONDS", "IDLE_IN_TRANSACTION_TIMEOUT_SECONDS"):
        monkeypatch.delenv(f"QUORUM_DB_{name}", raising=False)
    engine = create_engine(settings(backend, **values))
    try:
        async with engine.connect() as conn:
            shown = await conn.execute(
                text(
                    "SELECT current_setting('statement_timeout'), "
                    "current_setting('idle_in_transaction_session_timeout')"
                )
            )
            assert tuple(shown.one()) == expected
    finally:
        await engine.dispose()


async def test_a_transaction_left_idle_is_ended_and_its_row_lock_released(
    backend: Backend,
) -> None:
    engine = create_engine(settings(backend, db_idle_in_transaction_timeout_seconds=1))
    other = await asyncpg.connect(dsn(backend), timeout=5)
    lock_row = "SELECT version_num FROM alembic_version FOR UPDATE NOWAIT"
    try:
        async with engine.connect() as conn:
            await conn.execute(text(lock_row))  # and then the client goes quiet
            async with other.transaction():
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await other.execute(lock_row)
            await asyncio.sleep(2)
            async with other.transaction():
                await other.execute(lock_row)  # the server ended the idle one: lock free
            with pytest.raises(sa_exc.DBAPIError) as failed:
                await conn.execute(text("SELECT 1"))
            assert is_unavailable(failed.value) or is_timeout(failed.value), failed.value
        async with engine.connect() as conn:  # the pool hands out a working connection again
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await other.close()
        await engine.dispose()


def assert_database_timeout(r: httpx.Response) -> None:
    problem(r, 503, "database_timeout")
    assert int(r.headers["retry-after"]) > 0


async def test_a_request_stuck_behind_a_row_lock_gets_503_database_timeout(
    backend: Backend, tmp_path: Path
) -> None:
    server = start_server(
        backend, tmp_path, QUORUM_DB_STATEMENT_TIMEOUT_SECONDS=str(STATEMENT_TIMEOUT)
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=REQUEST_TIMEOUT) as client:
            api = Api(client)
            owner, voter = await api.user("owner"), await api.user("voter")
            event = await api.event(owner, members=[voter])
            proposal = await api.proposal(owner, event)
            vote = api.vote_url(event, proposal)
            voting = {**voter.auth, "Idempotency-Key": f"vote-{uuid.uuid4()}"}
            proposals = f"/api/v1/events/{event}/proposals"

            lock = await asyncpg.connect(dsn(backend), timeout=5)
            held = lock.transaction()
            await held.start()
            try:
                await lock.execute(
                    "SELECT id FROM events WHERE id = $1 FOR UPDATE", uuid.UUID(event)
                )
                started = time.monotonic()
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    voted, proposed, read = await asyncio.gather(
                        client.post(vote, headers=voting),
                        client.post(proposals, json={"kind": "CRITERIA", "title": "Q"},
                                    headers=owner.auth),
                        client.get(f"/api/v1/events/{event}", headers=voter.auth),
                    )  # fmt: skip
                elapsed = time.monotonic() - started
                assert_database_timeout(voted)
                assert_database_timeout(proposed)
                assert read.status_code == 200, read.text  # a plain read does not wait for it
                # The writes waited for the lock until the statement timeout, not forever.
                assert STATEMENT_TIMEOUT * 0.9 <= elapsed < STATEMENT_TIMEOUT + 4, elapsed
            finally:
                await held.rollback()
                await lock.close()

            r = await client.post(vote, headers=voting)  # the same key: the 503 stored nothing
            assert r.status_code == 201, r.text
            assert "idempotent-replayed" not in r.headers
            assert r.json()["proposal"]["vote_count"] == 1
            r = await client.post(
                proposals, json={"kind": "CRITERIA", "title": "Q"}, headers=owner.auth
            )
            assert r.status_code == 201, r.text
    finally:
        server.stop()
    log = server.log()
    assert "database_timeout" in log, log
    assert "unhandled_error" not in log and "Exception in ASGI application" not in log, log
