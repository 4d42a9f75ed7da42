"""People have names: every person a response or a stream message mentions comes as
``{"id", "display_name"}``; ``decided_by`` says auto or who; the members list and the
voters list name people too; so do an event's ``organizer``, a membership's
``decided_by``, ``closed_by`` and ``deleted_by`` (docs/decisions.md, "People have
names")."""

import asyncio
from typing import Any

from tests.api import Api, User, problem
from tests.sse import events

EVENTS = "/api/v1/events"


async def test_members_are_listed_with_names_and_roles_page_by_page(api: Api) -> None:
    owner, ada, bob = await api.user("Olivia"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada])
    await api.join(owner, event, bob, role="ADMIN")
    outsider = await api.user("Eve")
    pending = await api.client.post(f"{EVENTS}/{event}/memberships", headers=outsider.auth)
    assert pending.status_code == 201, pending.text

    pages = await api.all_pages(ada, f"{EVENTS}/{event}/members", limit=2)

    members = [m for page in pages for m in page]
    assert [(m["user"], m["role"]) for m in members] == [
        (owner.person, "ORGANIZER"),
        (ada.person, "MEMBER"),
        (bob.person, "ADMIN"),
    ]  # the pending request is not a member
    assert all(m["joined_at"] is not None for m in members)
    problem(await api.client.get(f"{EVENTS}/{event}/members", headers=outsider.auth), 403)


async def test_voters_are_listed_with_names_and_times(api: Api) -> None:
    owner, ada, bob = await api.user("Olivia"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada, bob])
    proposal = await api.proposal(owner, event)
    for voter in (ada, bob, owner):
        assert (await api.client.post(api.vote_url(event, proposal), headers=voter.auth)).is_success

    pages = await api.all_pages(ada, api.vote_url(event, proposal), limit=2)

    voters = [v for page in pages for v in page]
    assert sorted(v["user"]["id"] for v in voters) == [v["user"]["id"] for v in voters]
    assert {v["user"]["id"]: v["user"] for v in voters} == {
        u.id: u.person for u in (owner, ada, bob)
    }
    assert all(v["voted_at"] for v in voters)
    missing = f"{EVENTS}/{event}/proposals/0193a6f4-2b3c-7d4e-9f50-6b7c8d9e0f1a/votes"
    problem(await api.client.get(missing, headers=ada.auth), 404, "proposal_not_found")


async def test_people_are_named_on_proposals_comments_memberships_and_votes(api: Api) -> None:
    owner, ada = await api.user("Olivia"), await api.user("Ada")
    event = await api.event(owner, members=[ada], threshold=5)
    proposal = await api.proposal(ada, event)
    await api.comment(ada, event, proposal, "Mine")
    r = await api.client.post(api.vote_url(event, proposal), headers=ada.auth)
    assert r.status_code == 201, r.text
    decided = await api.client.patch(
        f"{EVENTS}/{event}/proposals/{proposal}", json={"status": "ACCEPTED"}, headers=owner.auth
    )

    assert r.json()["proposal"]["author"] == ada.person
    assert decided.json()["decided_by"] == {"kind": "user", **owner.person}
    detail = await api.get_proposal(ada, event, proposal)
    assert (detail["author"], detail["decided_by"]) == (
        ada.person,
        {"kind": "user", **owner.person},
    )
    assert detail["latest_comments"][0]["author"] == ada.person
    memberships = await api.client.get(f"{EVENTS}/{event}/memberships", headers=ada.auth)
    assert [m["user"] for m in memberships.json()["items"]] == [owner.person, ada.person]
    log = (await api.client.get(f"{EVENTS}/{event}/log", headers=ada.auth)).json()["items"]
    by_type = {e["type"]: e["data"] for e in log}
    assert by_type["vote.cast"]["user"] == ada.person
    assert by_type["comment.created"]["author"] == ada.person
    assert by_type["membership.requested"]["user"] == ada.person
    assert by_type["proposal.updated"]["decided_by"] == {"kind": "user", **owner.person}


async def _snapshot(api: Api, user: User, event: str) -> dict[str, Any]:
    url = f"{EVENTS}/{event}/stream"
    async with api.client.stream("GET", url, headers=user.auth) as stream:
        first = await asyncio.wait_for(anext(events(stream)), 15)
    assert first.event == "snapshot", first
    data: dict[str, Any] = first.data["data"]
    return data


async def test_the_organizer_and_who_decided_a_membership_are_named(api: Api) -> None:
    owner, ada, bob = await api.user("Olivia"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada])
    await api.join(owner, event, bob, role="ADMIN")
    # Bob, an admin, changes Ada's role: who approved her stays Olivia.
    [ada_membership] = [
        m["id"]
        for m in (await api.client.get(f"{EVENTS}/{event}/memberships", headers=bob.auth)).json()[
            "items"
        ]
        if m["user"] == ada.person
    ]
    role = await api.client.patch(
        f"{EVENTS}/{event}/memberships/{ada_membership}", json={"role": "ADMIN"}, headers=bob.auth
    )
    assert (role.json()["role"], role.json()["decided_by"]) == ("ADMIN", owner.person)
    eve = await api.user("Eve")
    asked = await api.client.post(f"{EVENTS}/{event}/memberships", headers=eve.auth)
    rejected = await api.client.patch(
        f"{EVENTS}/{event}/memberships/{asked.json()['id']}",
        json={"status": "REJECTED"},
        headers=bob.auth,
    )
    assert rejected.json()["decided_by"] == bob.person

    read = (await api.client.get(f"{EVENTS}/{event}", headers=ada.auth)).json()
    listed = (await api.client.get(EVENTS, headers=bob.auth)).json()["items"]
    assert read["organizer"] == listed[0]["organizer"] == owner.person
    memberships = (await api.client.get(f"{EVENTS}/{event}/memberships", headers=ada.auth)).json()
    assert [(m["user"], m["decided_by"]) for m in memberships["items"]] == [
        (owner.person, None),  # the organizer's own: nobody decided
        (ada.person, owner.person),
        (bob.person, owner.person),
        (eve.person, bob.person),
    ]
    mine = await api.client.get(f"{EVENTS}/{event}/memberships/me", headers=eve.auth)
    assert mine.json()["decided_by"] == bob.person
    snapshot = await _snapshot(api, ada, event)
    assert snapshot["event"]["organizer"] == owner.person
    assert [m["decided_by"] for m in snapshot["memberships"]] == [None, owner.person, owner.person]
    closed = await api.client.patch(
        f"{EVENTS}/{event}", json={"status": "CLOSED"}, headers=bob.auth
    )
    assert closed.json()["organizer"] == owner.person
    log = (await api.client.get(f"{EVENTS}/{event}/log", headers=ada.auth)).json()["items"]
    updates = [e["data"] for e in log if e["type"] == "membership.updated"]
    assert [u["decided_by"] for u in updates] == [owner.person] * 3 + [bob.person]
    [close] = [e["data"] for e in log if e["type"] == "event.updated"]
    assert (close["organizer"], close["closed_by"]) == (
        owner.person,
        {"kind": "user", **bob.person},
    )


async def test_the_deletion_names_who_deleted(api: Api) -> None:
    owner = await api.user("Olivia")
    event = await api.event(owner)
    url = f"{EVENTS}/{event}/stream"
    async with api.client.stream("GET", url, headers=owner.auth) as stream:
        messages = events(stream)
        assert (await asyncio.wait_for(anext(messages), 15)).event == "snapshot"
        deleted = await api.client.delete(f"{EVENTS}/{event}", headers=owner.auth)
        assert deleted.status_code == 204, deleted.text
        last = await asyncio.wait_for(anext(messages), 15)
    assert (last.event, last.data["data"]["deleted_by"]) == ("event.deleted", owner.person)
