"""What a removal does to the person's votes, and to the writes racing it.

Someone who leaves an event (removed, leaving, or deleting their account) has their votes
on PENDING proposals withdrawn in the same transaction, each logged as
``vote.withdrawn``; votes on decided proposals stay. A vote (comment, proposal) whose
access check ran before a removal committed cannot commit after it: the write holds the
membership itself (docs/decisions.md)."""

import asyncio
from typing import Any

import pytest

from tests.api import PASSWORD, Api, User, problem
from tests.sse import Event, events


async def voters(api: Api, reader: User, event: str, proposal: str) -> list[str]:
    pages = await api.all_pages(reader, api.vote_url(event, proposal), 100)
    return [row["user"]["id"] for page in pages for row in page]


async def vote(api: Api, user: User, event: str, proposal: str) -> Any:
    return await api.client.post(api.vote_url(event, proposal), headers=user.auth)


async def take_leave(api: Api, how: str, owner: User, member: User, event: str, mid: str) -> None:
    """The member stops being one: removed by the organizer, leaving, or deleting their
    account."""
    base = f"/api/v1/events/{event}/memberships"
    if how == "removed":
        r = await api.client.delete(f"{base}/{mid}", headers=owner.auth)
    elif how == "left":
        r = await api.client.delete(f"{base}/me", headers=member.auth)
    else:
        r = await api.client.request(
            "DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=member.auth
        )
    assert r.status_code == 204, r.text


async def until(stream: Any, type_: str, count: int) -> list[Event]:
    """The next ``count`` messages of ``type_`` on the stream (others skipped)."""
    found: list[Event] = []
    while len(found) < count:
        message = await asyncio.wait_for(anext(stream), 10)
        if message.event == type_:
            found.append(message)
    return found


@pytest.mark.parametrize("how", ["removed", "left", "account_deleted"])
async def test_leaving_withdraws_the_votes_on_pending_proposals(api: Api, how: str) -> None:
    owner, member, other = await api.user("owner"), await api.user("m"), await api.user("o")
    event = await api.event(owner, members=[other])
    mid = await api.join(owner, event, member)
    pending, also_pending, decided = [await api.proposal(other, event) for _ in range(3)]
    for proposal in (pending, also_pending, decided):
        assert (await vote(api, member, event, proposal)).status_code == 201
    assert (await vote(api, other, event, pending)).status_code == 201
    r = await api.client.patch(
        f"/api/v1/events/{event}/proposals/{decided}",
        json={"status": "ACCEPTED"},
        headers=owner.auth,
    )
    assert r.status_code == 200, r.text

    async with api.client.stream(
        "GET", f"/api/v1/events/{event}/stream", headers=owner.auth
    ) as response:
        stream = events(response)
        assert (await asyncio.wait_for(anext(stream), 10)).event == "snapshot"
        await take_leave(api, how, owner, member, event, mid)
        [removed] = await until(stream, "membership.removed", 1)
        withdrawn = await until(stream, "vote.withdrawn", 2)

    assert removed.data["data"]["reason"] == how
    counts = {m.data["data"]["proposal_id"]: m.data["data"]["vote_count"] for m in withdrawn}
    assert counts == {pending: 1, also_pending: 0}
    assert all(m.id == (removed.id or 0) + 1 + i for i, m in enumerate(withdrawn))  # one commit
    shown = (
        member.person
        if how != "account_deleted"
        else {"id": member.id, "display_name": "deleted user"}
    )
    assert all(m.data["data"]["user"] == shown for m in withdrawn)
    for proposal, expected in ((pending, [other.id]), (also_pending, []), (decided, [member.id])):
        assert await voters(api, owner, event, proposal) == expected
        card = await api.get_proposal(owner, event, proposal)
        assert card["vote_count"] == len(expected)


async def test_an_anonymous_events_withdrawals_name_nobody(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event = await api.event(owner, anonymous_votes=True)
    mid = await api.join(owner, event, member)
    proposal = await api.proposal(owner, event)
    assert (await vote(api, member, event, proposal)).status_code == 201

    await take_leave(api, "removed", owner, member, event, mid)

    r = await api.client.get(f"/api/v1/events/{event}/log", headers=owner.auth)
    [withdrawn] = [e["data"] for e in r.json()["items"] if e["type"] == "vote.withdrawn"]
    assert (withdrawn["user"], withdrawn["vote_count"]) == (None, 0)


async def remove_soon(api: Api, owner: User, member: User, event: str, mid: str) -> None:
    await asyncio.sleep(0.01)
    await take_leave(api, "removed", owner, member, event, mid)


async def test_votes_racing_a_removal_never_outlive_it(api: Api) -> None:
    """The member votes on many proposals while being removed: whichever votes commit
    before the removal are withdrawn by it, and none commits after it, so in the end the
    removed member has no vote and every count equals its vote rows."""
    for _ in range(4):
        owner, member = await api.user("owner"), await api.user("m")
        event = await api.event(owner)
        mid = await api.join(owner, event, member)
        proposals = [await api.proposal(owner, event) for _ in range(12)]

        results = await asyncio.gather(
            remove_soon(api, owner, member, event, mid),
            *(vote(api, member, event, p) for p in proposals),
        )
        for r in results[1:]:
            assert r.status_code in (201, 403), r.text
        for proposal in proposals:
            assert await voters(api, owner, event, proposal) == []
            assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 0


async def test_a_write_after_the_removal_is_refused(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event = await api.event(owner)
    mid = await api.join(owner, event, member)
    proposal = await api.proposal(owner, event)
    await take_leave(api, "removed", owner, member, event, mid)

    problem(await vote(api, member, event, proposal), 403, "not_a_member")
    r = await api.client.post(
        f"/api/v1/events/{event}/proposals/{proposal}/comments",
        json={"body": "late"},
        headers=member.auth,
    )
    problem(r, 403, "not_a_member")
