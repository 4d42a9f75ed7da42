"""A valid token whose account no longer exists is 401 ``user_not_found`` on every route
that acts as the caller, never a 500 from a foreign key on ``users``.

The account is deleted the way an operator would, straight in the database (cascading to
the person's memberships and votes); the token, signed and unexpired, is kept.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from quorum.accounts.models import User
from quorum.decisions.models import Event, Membership
from tests.api import Api, problem
from tests.api import User as ApiUser
from tests.services import Backend

EVENTS = "/api/v1/events"


@pytest.fixture(scope="module")
async def database(backend: Backend) -> AsyncIterator[AsyncEngine]:
    """The server's own database, for what the API cannot do (delete an account)."""
    engine = create_async_engine(backend.url)
    if backend.name == "sqlite":  # SQLite enforces (and cascades) foreign keys only if asked

        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

    yield engine
    await engine.dispose()


async def delete_user(database: AsyncEngine, user: ApiUser) -> None:
    user_id = uuid.UUID(user.id)
    async with database.begin() as connection:
        result = await connection.execute(delete(User).where(User.id == user_id))
        assert result.rowcount == 1
        left = select(func.count()).where(Membership.user_id == user_id)
        assert await connection.scalar(left) == 0  # cascaded: nothing says "member" any more


async def events_organized_by(database: AsyncEngine, user: ApiUser) -> int:
    async with database.connect() as connection:
        return int(
            await connection.scalar(
                select(func.count()).where(Event.organizer_id == uuid.UUID(user.id))
            )
            or 0
        )


async def test_every_route_acting_as_a_deleted_user_is_401(api: Api, database: AsyncEngine) -> None:
    owner = await api.user("owner")
    gone = await api.user("gone")
    event_id = await api.event(owner, members=[gone])
    other_event = await api.event(owner)
    proposal = await api.proposal(owner, event_id)
    base = f"{EVENTS}/{event_id}"
    voted = await api.proposal(owner, event_id, title="voted on")
    r = await api.client.post(api.vote_url(event_id, voted), headers=gone.auth)
    assert r.status_code == 201, r.text

    await delete_user(database, gone)

    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", EVENTS, {"title": "by a ghost"}),
        ("POST", f"{EVENTS}/{other_event}/memberships", None),
        ("POST", f"{base}/proposals", {"kind": "CRITERIA", "title": "t"}),
        ("POST", api.vote_url(event_id, proposal), None),
        ("DELETE", f"{api.vote_url(event_id, voted)}/me", None),
        ("POST", f"{base}/proposals/{proposal}/comments", {"body": "boo"}),
        ("PATCH", f"{base}/proposals/{proposal}", {"status": "DELETED"}),
        ("POST", f"{base}/stream-tickets", None),
        ("GET", base, None),
        ("GET", "/api/v1/me", None),
    ]
    answers = {}
    for method, url, body in calls:
        r = await api.client.request(method, url, json=body, headers=gone.auth)
        answers[f"{method} {url}"] = (r.status_code, r.json().get("code"))
    assert answers == {call: (401, "user_not_found") for call in answers}
    keyed = {**gone.auth, "Idempotency-Key": "ghost-event"}
    r = await api.client.post(EVENTS, json={"title": "keyed"}, headers=keyed)
    problem(r, 401, "user_not_found")
    assert r.headers["www-authenticate"] == "Bearer"
    assert await events_organized_by(database, gone) == 0
