"""Memberships over HTTP: asking to join, deciding requests, roles, listing."""

import uuid
from typing import Any

import httpx
import pytest

from tests.api import Api, User, problem


def memberships_url(event_id: str) -> str:
    return f"/api/v1/events/{event_id}/memberships"


async def request_to_join(api: Api, event_id: str, user: User) -> dict[str, Any]:
    r = await api.client.post(memberships_url(event_id), headers=user.auth)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def decide(
    api: Api, admin: User, event_id: str, membership_id: str, **body: str
) -> httpx.Response:
    return await api.client.patch(
        f"{memberships_url(event_id)}/{membership_id}", json=body, headers=admin.auth
    )


async def can_read_event(api: Api, user: User, event_id: str) -> bool:
    r = await api.client.get(f"/api/v1/events/{event_id}", headers=user.auth)
    assert r.status_code in (200, 403), r.text
    return r.status_code == 200


async def organizer_membership_id(api: Api, owner: User, event_id: str) -> str:
    r = await api.client.get(memberships_url(event_id), headers=owner.auth)
    [mine] = [m for m in r.json()["items"] if m["role"] == "ORGANIZER"]
    return str(mine["id"])


async def test_request_is_created_pending(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)

    request = await request_to_join(api, event, joiner)

    assert (request["event_id"], request["user_id"]) == (event, joiner.id)
    assert (request["role"], request["status"], request["decided_at"]) == (
        "MEMBER",
        "PENDING",
        None,
    )
    assert not await can_read_event(api, joiner, event)


async def test_second_request_is_409_whatever_the_first_became(api: Api) -> None:
    owner = await api.user("owner")
    pending, approved, rejected = [await api.user(n) for n in ("pending", "ok", "no")]
    event = await api.event(owner)
    await request_to_join(api, event, pending)
    await api.join(owner, event, approved)
    r = await decide(
        api, owner, event, (await request_to_join(api, event, rejected))["id"], status="REJECTED"
    )
    assert r.status_code == 200, r.text

    for user in (pending, approved, rejected, owner):
        again = await api.client.post(memberships_url(event), headers=user.auth)
        problem(again, 409, "membership_exists")


async def decider_with_role(api: Api, owner: User, event: str, role: str) -> User:
    """The organizer itself, or a fresh member the organizer made ADMIN."""
    if role == "ORGANIZER":
        return owner
    admin = await api.user("admin")
    await api.join(owner, event, admin, role="ADMIN")
    return admin


@pytest.mark.parametrize("decider_role", ["ORGANIZER", "ADMIN"])
async def test_organizer_or_admin_approves(api: Api, decider_role: str) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    decider = await decider_with_role(api, owner, event, decider_role)
    request = await request_to_join(api, event, joiner)

    r = await decide(api, decider, event, request["id"], status="APPROVED")

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["role"]) == ("APPROVED", "MEMBER")
    assert r.json()["decided_at"] is not None
    assert await can_read_event(api, joiner, event)


@pytest.mark.parametrize("decider_role", ["ORGANIZER", "ADMIN"])
async def test_organizer_or_admin_rejects(api: Api, decider_role: str) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    decider = await decider_with_role(api, owner, event, decider_role)
    request = await request_to_join(api, event, joiner)

    r = await decide(api, decider, event, request["id"], status="REJECTED")

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "REJECTED"
    assert r.json()["decided_at"] is not None
    assert not await can_read_event(api, joiner, event)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("APPROVED", "APPROVED"),
        ("APPROVED", "REJECTED"),
        ("REJECTED", "APPROVED"),
        ("REJECTED", "REJECTED"),
    ],
)
async def test_a_decided_request_is_final(api: Api, first: str, second: str) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    request = await request_to_join(api, event, joiner)
    assert (await decide(api, owner, event, request["id"], status=first)).status_code == 200

    r = await decide(api, owner, event, request["id"], status=second)

    problem(r, 409, "membership_already_decided")
    assert await can_read_event(api, joiner, event) == (first == "APPROVED")


async def test_members_and_requesters_cannot_decide(api: Api) -> None:
    owner, member, joiner = await api.user("owner"), await api.user("m"), await api.user("j")
    event = await api.event(owner, members=[member])
    request = await request_to_join(api, event, joiner)

    problem(
        await decide(api, member, event, request["id"], status="APPROVED"), 403, "admin_required"
    )
    # Nor may a requester approve their own request.
    problem(await decide(api, joiner, event, request["id"], status="APPROVED"), 403, "not_a_member")
    problem(await decide(api, member, event, request["id"], role="ADMIN"), 403, "admin_required")
    assert not await can_read_event(api, joiner, event)


async def test_promotion_to_admin_gives_admin_powers(api: Api) -> None:
    owner, member, joiner = await api.user("owner"), await api.user("m"), await api.user("j")
    event = await api.event(owner)
    membership = await api.join(owner, event, member)
    request = await request_to_join(api, event, joiner)
    problem(
        await decide(api, member, event, request["id"], status="APPROVED"), 403, "admin_required"
    )

    promoted = await decide(api, owner, event, membership, role="ADMIN")

    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["role"], promoted.json()["status"]) == ("ADMIN", "APPROVED")
    r = await decide(api, member, event, request["id"], status="APPROVED")
    assert r.status_code == 200, r.text
    r = await api.client.patch(
        f"/api/v1/events/{event}", json={"title": "Renamed by admin"}, headers=member.auth
    )
    assert r.status_code == 200, r.text
    proposal = await api.proposal(joiner, event)
    r = await api.client.patch(
        f"/api/v1/events/{event}/proposals/{proposal}",
        json={"status": "ACCEPTED"},
        headers=member.auth,
    )
    assert r.status_code == 200, r.text


async def test_demotion_takes_admin_powers_away(api: Api) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    event = await api.event(owner)
    membership = await api.join(owner, event, admin, role="ADMIN")

    r = await decide(api, owner, event, membership, role="MEMBER")

    assert r.status_code == 200, r.text
    assert r.json()["role"] == "MEMBER"
    r = await api.client.patch(f"/api/v1/events/{event}", json={"title": "x"}, headers=admin.auth)
    problem(r, 403, "admin_required")


async def test_approve_and_promote_in_one_request(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    request = await request_to_join(api, event, joiner)

    r = await decide(api, owner, event, request["id"], status="APPROVED", role="ADMIN")

    assert (r.json()["status"], r.json()["role"]) == ("APPROVED", "ADMIN")


@pytest.mark.parametrize("body", [{"role": "MEMBER"}, {"role": "ADMIN"}, {"status": "REJECTED"}])
async def test_the_organizers_membership_cannot_change(api: Api, body: dict[str, str]) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    event = await api.event(owner)
    await api.join(owner, event, admin, role="ADMIN")
    organizer = await organizer_membership_id(api, owner, event)

    for caller in (owner, admin):
        r = await decide(api, caller, event, organizer, **body)
        problem(r, 403, "organizer_membership_fixed")

    r = await api.client.patch(f"/api/v1/events/{event}", json={"title": "x"}, headers=owner.auth)
    assert r.status_code == 200, r.text  # still the organizer


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "empty_update"),
        ({"role": "ORGANIZER"}, "validation_error"),
        ({"status": "PENDING"}, "validation_error"),
        ({"status": "MAYBE"}, "validation_error"),
        ({"status": "APPROVED", "user_id": str(uuid.uuid4())}, "validation_error"),
    ],
)
async def test_bad_decisions_are_422(api: Api, body: dict[str, str], code: str) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    request = await request_to_join(api, event, joiner)

    problem(await decide(api, owner, event, request["id"], **body), 422, code)
    assert not await can_read_event(api, joiner, event)


async def test_unknown_membership_is_404(api: Api) -> None:
    owner, other_owner, joiner = await api.user("o"), await api.user("o2"), await api.user("j")
    event, other_event = await api.event(owner), await api.event(other_owner)
    elsewhere = await request_to_join(api, other_event, joiner)

    r = await decide(api, owner, event, str(uuid.uuid4()), status="APPROVED")
    problem(r, 404, "membership_not_found")
    # A membership of another event cannot be decided through this event's URL.
    r = await decide(api, owner, event, elsewhere["id"], status="APPROVED")
    problem(r, 404, "membership_not_found")
    assert not await can_read_event(api, joiner, other_event)


async def test_list_filters_by_status_and_pages_oldest_first(api: Api) -> None:
    owner = await api.user("owner")
    joiners = [await api.user(f"j{i}") for i in range(5)]
    event = await api.event(owner)
    requests = [await request_to_join(api, event, j) for j in joiners]
    for request in requests[:2]:
        assert (await decide(api, owner, event, request["id"], status="APPROVED")).is_success
    assert (await decide(api, owner, event, requests[2]["id"], status="REJECTED")).is_success
    url = memberships_url(event)

    pages = await api.all_pages(owner, url, limit=2)
    assert [len(p) for p in pages] == [2, 2, 2]
    everyone = [m["user_id"] for page in pages for m in page]
    assert everyone == [owner.id, *(j.id for j in joiners)]

    def users(pages: list[list[dict[str, Any]]]) -> list[str]:
        return [m["user_id"] for page in pages for m in page]

    assert users(await api.all_pages(owner, url, limit=1, status="PENDING")) == [
        joiners[3].id,
        joiners[4].id,
    ]
    assert users(await api.all_pages(owner, url, limit=2, status="APPROVED")) == [
        owner.id,
        joiners[0].id,
        joiners[1].id,
    ]
    assert users(await api.all_pages(owner, url, limit=5, status="REJECTED")) == [joiners[2].id]


async def test_any_approved_member_lists_but_requesters_do_not(api: Api) -> None:
    owner, member, joiner = await api.user("owner"), await api.user("m"), await api.user("j")
    event = await api.event(owner, members=[member])
    await request_to_join(api, event, joiner)

    r = await api.client.get(memberships_url(event), headers=member.auth)
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 3
    problem(await api.client.get(memberships_url(event), headers=joiner.auth), 403, "not_a_member")


async def test_list_rejects_bad_parameters(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    url = memberships_url(event)
    for params, code in (
        ({"status": "MAYBE"}, "validation_error"),
        ({"limit": "0"}, "validation_error"),
        ({"limit": "101"}, "validation_error"),
        ({"cursor": "zz"}, "invalid_cursor"),
    ):
        problem(await api.client.get(url, params=params, headers=owner.auth), 422, code)
