"""Invitation links over HTTP: making, listing and revoking them; opening one (a
preview); accepting it (joining at once, or asking); every way a link stops working;
and a use limit that holds when people race for the last uses."""

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quorum.db.base import utcnow
from quorum.invitations.models import Invitation
from tests.api import Api, User, problem
from tests.services import Backend


def invitations(event: str) -> str:
    return f"/api/v1/events/{event}/invitations"


async def invite(api: Api, caller: User, event: str, **body: Any) -> dict[str, Any]:
    r = await api.client.post(invitations(event), json=body, headers=caller.auth)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def accept(api: Api, user: User, token: str) -> Any:
    return await api.client.post(f"/api/v1/invitations/{token}/accept", headers=user.auth)


async def preview(api: Api, user: User, token: str) -> Any:
    return await api.client.get(f"/api/v1/invitations/{token}", headers=user.auth)


async def listed(api: Api, caller: User, event: str) -> list[dict[str, Any]]:
    r = await api.client.get(invitations(event), headers=caller.auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def log_types(api: Api, reader: User, event: str) -> list[str]:
    r = await api.client.get(f"/api/v1/events/{event}/log", headers=reader.auth)
    return [e["type"] for e in r.json()["items"]]


# -- making, listing, revoking ----------------------------------------------------------


async def test_an_invitation_shows_its_token_once_and_keeps_only_its_hash(
    api: Api, backend: Backend
) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)

    created = await invite(api, owner, event, max_uses=5, auto_approve=True)

    token = created["token"]
    assert len(token) >= 43 and created["url"] == f"/invitations/{token}"
    assert (created["event_id"], created["max_uses"], created["uses"]) == (event, 5, 0)
    assert (created["auto_approve"], created["revoked_at"]) == (True, None)
    assert created["created_by_id"] == owner.id
    lasts = utcnow() + timedelta(hours=168) - datetime.fromisoformat(created["expires_at"])
    assert timedelta(0) <= lasts < timedelta(minutes=1)  # a week by default
    [row] = await listed(api, owner, event)
    assert "token" not in row and "url" not in row
    assert row == {k: v for k, v in created.items() if k not in ("token", "url")}
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                select(Invitation.token_hash).where(Invitation.id == uuid.UUID(created["id"]))
            )
    finally:
        await engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest()


async def test_an_admin_invites_and_a_plain_member_may_not(api: Api) -> None:
    owner, admin, member = await api.user("owner"), await api.user("a"), await api.user("m")
    event = await api.event(owner)
    await api.join(owner, event, admin, role="ADMIN")
    await api.join(owner, event, member)

    await invite(api, admin, event)
    r = await api.client.post(invitations(event), json={}, headers=member.auth)
    problem(r, 403, "admin_required")
    problem(await api.client.get(invitations(event), headers=member.auth), 403, "admin_required")


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in_hours": 0},
        {"expires_in_hours": 30 * 24 + 1},
        {"expires_in_hours": "5"},
        {"max_uses": 0},
        {"auto_approve": "yes"},
        {"token": "mine"},
    ],
)
async def test_bad_invitations_are_422(api: Api, body: dict[str, Any]) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    r = await api.client.post(invitations(event), json=body, headers=owner.auth)
    problem(r, 422, "validation_error")


async def test_a_revoked_link_admits_nobody(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    created = await invite(api, owner, event)
    revoke = f"{invitations(event)}/{created['id']}"

    assert (await api.client.delete(revoke, headers=owner.auth)).status_code == 204
    assert (await api.client.delete(revoke, headers=owner.auth)).status_code == 204  # again

    problem(await preview(api, joiner, created["token"]), 410, "invitation_revoked")
    problem(await accept(api, joiner, created["token"]), 410, "invitation_revoked")
    [row] = await listed(api, owner, event)
    assert row["revoked_at"] is not None
    unknown = f"{invitations(event)}/{uuid.uuid4()}"
    problem(await api.client.delete(unknown, headers=owner.auth), 404, "invitation_not_found")


# -- opening and accepting --------------------------------------------------------------


async def test_opening_a_link_previews_the_event(api: Api) -> None:
    owner, visitor = await api.user("Ada"), await api.user("visitor")
    event = await api.event(owner, title="Offsite")
    created = await invite(api, owner, event, auto_approve=True)

    r = await preview(api, visitor, created["token"])

    assert r.status_code == 200, r.text
    assert r.json() == {
        "event_id": event,
        "title": "Offsite",
        "description": "",
        "status": "OPEN",
        "organizer": {"id": owner.id, "display_name": "Ada"},
        "auto_approve": True,
        "expires_at": created["expires_at"],
    }
    problem(await preview(api, visitor, "no-such-token"), 404, "invitation_not_found")
    assert (await api.client.get(f"/api/v1/invitations/{created['token']}")).status_code == 401


async def test_an_auto_approving_link_makes_a_member_at_once(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    created = await invite(api, owner, event, auto_approve=True)

    r = await accept(api, joiner, created["token"])

    assert r.status_code == 201, r.text
    assert (r.json()["user_id"], r.json()["status"], r.json()["role"]) == (
        joiner.id,
        "APPROVED",
        "MEMBER",
    )
    assert r.json()["decided_at"] is not None
    assert (await api.client.get(f"/api/v1/events/{event}", headers=joiner.auth)).status_code == 200
    assert (await log_types(api, owner, event))[-1] == "membership.joined"
    [row] = await listed(api, owner, event)
    assert row["uses"] == 1


async def test_a_link_that_does_not_approve_makes_a_request(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    created = await invite(api, owner, event)

    r = await accept(api, joiner, created["token"])

    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["decided_at"]) == ("PENDING", None)
    problem(await api.client.get(f"/api/v1/events/{event}", headers=joiner.auth), 403)
    assert (await log_types(api, owner, event))[-1] == "membership.requested"
    decided = await api.client.patch(
        f"/api/v1/events/{event}/memberships/{r.json()['id']}",
        json={"status": "APPROVED"},
        headers=owner.auth,
    )
    assert decided.status_code == 200, decided.text


async def test_someone_with_a_membership_gets_409_and_the_use_is_not_taken(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event = await api.event(owner)
    await api.join(owner, event, member)
    created = await invite(api, owner, event, max_uses=1, auto_approve=True)

    for user in (member, owner):
        problem(await accept(api, user, created["token"]), 409, "membership_exists")

    [row] = await listed(api, owner, event)
    assert row["uses"] == 0
    assert (await accept(api, await api.user("new"), created["token"])).status_code == 201


async def test_a_used_up_link_is_410(api: Api) -> None:
    owner, first, second = await api.user("owner"), await api.user("1"), await api.user("2")
    event = await api.event(owner)
    created = await invite(api, owner, event, max_uses=1)

    assert (await accept(api, first, created["token"])).status_code == 201
    problem(await accept(api, second, created["token"]), 410, "invitation_used_up")
    problem(await preview(api, second, created["token"]), 410, "invitation_used_up")


async def test_an_expired_link_is_410(api: Api, backend: Backend) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    created = await invite(api, owner, event, expires_in_hours=1)
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:  # an hour later, as far as the link can tell
        async with engine.begin() as connection:
            await connection.execute(
                update(Invitation)
                .where(Invitation.id == uuid.UUID(created["id"]))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()

    problem(await preview(api, joiner, created["token"]), 410, "invitation_expired")
    problem(await accept(api, joiner, created["token"]), 410, "invitation_expired")


async def test_a_closed_event_takes_nobody_and_keeps_the_use(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    created = await invite(api, owner, event, max_uses=1, auto_approve=True)
    await api.client.patch(f"/api/v1/events/{event}", json={"status": "CLOSED"}, headers=owner.auth)

    problem(await accept(api, joiner, created["token"]), 409, "event_closed")
    [row] = await listed(api, owner, event)
    assert row["uses"] == 0


async def test_ten_people_racing_for_a_three_use_link_admits_exactly_three(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    created = await invite(api, owner, event, max_uses=3, auto_approve=True)
    people = [await api.user(f"p{i}") for i in range(10)]

    answers = await asyncio.gather(*(accept(api, p, created["token"]) for p in people))

    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 3 + [410] * 7, [r.text for r in answers]
    for r in answers:
        if r.status_code == 410:
            problem(r, 410, "invitation_used_up")
    [row] = await listed(api, owner, event)
    assert row["uses"] == 3
    members = await api.client.get(
        f"/api/v1/events/{event}/memberships", params={"status": "APPROVED"}, headers=owner.auth
    )
    admitted = {r.json()["user_id"] for r in answers if r.status_code == 201}
    assert {m["user_id"] for m in members.json()["items"]} == admitted | {owner.id}
