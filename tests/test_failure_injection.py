"""A failure injected after the vote insert leaves no vote and an unchanged count.

The app runs in-process (its lifespan included) on the same migrated database as the
``backend`` fixture, so that a function on the write path can be replaced by one that
raises. Whatever fails, before or at commit, the whole request is rolled back: no Vote
row, no count, no event-log entry, and no idempotency record, so that a retry with the
same Idempotency-Key runs for real instead of replaying an error.
"""

import errno
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from quorum.app import create_app
from quorum.db.models import Event, Vote
from quorum.decisions import at_once
from quorum.idempotency.models import IdempotencyRecord
from quorum.realtime import log
from quorum.settings import Settings
from tests.api import Api, User
from tests.services import SECRET, Backend

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each


@pytest.fixture
async def app(backend: Backend) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=backend.url,
        data_dir=backend.data_dir,
        secret_key=SECRET,
        argon2_time_cost=1,
        argon2_memory_cost_kib=1024,
        argon2_parallelism=1,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def local_api(app: FastAPI) -> AsyncIterator[Api]:
    # A 500 is sent by Starlette and then re-raised for the server to log: keep the response.
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://quorum.test") as client:
        yield Api(client)


@pytest.fixture
async def db(backend: Backend) -> AsyncIterator[AsyncEngine]:
    """A connection of the test's own, to look at the tables behind the app's back."""
    engine = create_async_engine(backend.url, poolclass=NullPool)
    yield engine
    await engine.dispose()


async def count(db: AsyncEngine, model: Any, *where: Any) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def last_seq(db: AsyncEngine, event_id: str) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(select(Event.last_seq).where(Event.id == uuid.UUID(event_id))))


def injected(kind: str, app: FastAPI) -> BaseException:
    if kind == "bug":
        return RuntimeError("injected failure")
    if kind == "io":  # an I/O error that is not the database's, e.g. a full blob store disk
        return OSError(errno.ENOSPC, "No space left on device (injected failure)")
    dbapi = app.state.engine.sync_engine.dialect.loaded_dbapi  # the connection dies at commit
    exc: BaseException = dbapi.OperationalError("server closed the connection (injected failure)")
    return exc


CASES = [
    # where, what, expected status and code
    ("append", "bug", 500, "internal_error"),
    ("append", "io", 500, "internal_error"),
    ("commit", "bug", 500, "internal_error"),
    ("commit", "connection_lost", 503, "database_unavailable"),
]


@pytest.mark.parametrize(("where", "what", "status", "code"), CASES)
async def test_failure_after_vote_insert_leaves_no_trace(
    app: FastAPI,
    local_api: Api,
    db: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    where: str,
    what: str,
    status: int,
    code: str,
) -> None:
    api = local_api
    owner, voter = await api.user("owner"), await api.user("voter")
    event = await api.event(owner, members=[voter])
    proposal = await api.proposal(owner, event)
    seq_before = await last_seq(db, event)
    url, headers = api.vote_url(event, proposal), {**voter.auth, "Idempotency-Key": "vote-1"}
    votes_seen: list[int] = []
    failure = injected(what, app)
    real_append, real_vote = log.append, at_once.run_in

    async def append(session: AsyncSession, *args: Any) -> int | None:
        """Runs right after the vote insert, in the same transaction (SQLite)."""
        votes_seen.append(await _votes_in(session, voter))
        if where == "append":
            raise failure
        return await real_append(session, *args)

    async def vote_at_once(session: AsyncSession, *args: Any) -> Any:
        """PostgreSQL: the vote, its count and its log entry are one statement; the
        failure comes right after it, in the same transaction."""
        row = await real_vote(session, *args)
        votes_seen.append(await _votes_in(session, voter))
        if where == "append":
            raise failure
        return row

    def do_commit(dbapi_connection: Any) -> None:  # the driver's COMMIT fails
        raise failure

    monkeypatch.setattr(log, "append", append)
    monkeypatch.setattr(at_once, "run_in", vote_at_once)
    if where == "commit":
        monkeypatch.setattr(app.state.engine.sync_engine.dialect, "do_commit", do_commit)
    r = await api.client.post(url, headers=headers)
    monkeypatch.undo()

    assert votes_seen == [1], "the failure was not injected after the vote insert"
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    logged = caplog.text + "".join(capsys.readouterr())
    assert "injected failure" in logged  # the error is logged...
    assert "Bearer" not in logged  # ...but not every frame's locals, credentials included
    voter_id = uuid.UUID(voter.id)
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 0
    assert await count(db, Vote, Vote.user_id == voter_id) == 0
    assert await count(db, IdempotencyRecord, IdempotencyRecord.user_id == voter_id) == 0
    assert await last_seq(db, event) == seq_before  # no event-log entry was numbered

    retry = await api.client.post(url, headers=headers)
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers  # it ran, it was not replayed
    assert retry.json()["proposal"]["vote_count"] == 1
    assert await count(db, Vote, Vote.user_id == voter_id) == 1
    replay = await api.client.post(url, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.content == retry.content


async def _votes_in(session: AsyncSession, voter: User) -> int:
    query = select(func.count()).select_from(Vote).where(Vote.user_id == uuid.UUID(voter.id))
    return int(await session.scalar(query))
