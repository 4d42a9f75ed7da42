"""Lists people can use: proposals sorted by newest, most votes or recently decided, with
keyset cursors on (sort key, id) that stay stable while votes and inserts happen between
pages; filtered by author; every list with its total."""

import base64
from typing import Any

import httpx

from tests.api import Api, User, problem


def proposals_url(event: str) -> str:
    return f"/api/v1/events/{event}/proposals"


async def get_page(api: Api, user: User, url: str, **params: Any) -> dict[str, Any]:
    r = await api.client.get(url, params=params, headers=user.auth)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def rest_of_pages(
    api: Api, user: User, url: str, first: dict[str, Any], **params: Any
) -> list[str]:
    """The ids of ``first`` and of every page after it."""
    seen = [item["id"] for item in first["items"]]
    page = first
    while page["next_cursor"] is not None:
        page = await get_page(api, user, url, cursor=page["next_cursor"], **params)
        seen += [item["id"] for item in page["items"]]
    return seen


async def vote(api: Api, user: User, event: str, proposal: str) -> None:
    r = await api.client.post(api.vote_url(event, proposal), headers=user.auth)
    assert r.status_code == 201, r.text


async def withdraw(api: Api, user: User, event: str, proposal: str) -> None:
    r = await api.client.delete(f"{api.vote_url(event, proposal)}/me", headers=user.auth)
    assert r.status_code == 204, r.text


async def decide(api: Api, user: User, event: str, proposal: str, status: str) -> None:
    r = await api.client.patch(
        f"{proposals_url(event)}/{proposal}", json={"status": status}, headers=user.auth
    )
    assert r.status_code == 200, r.text


async def test_newest_lists_every_proposal_once_while_inserts_and_votes_happen(
    api: Api,
) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    created = [await api.proposal(member, event, title=f"p{i}") for i in range(7)]
    url = proposals_url(event)

    first = await get_page(api, owner, url, limit=3)
    assert first["total"] == 7
    for proposal in created[:5]:  # seen and unseen ones change
        await vote(api, owner, event, proposal)
    late = [await api.proposal(owner, event, title=f"late {i}") for i in range(2)]
    second = await get_page(api, owner, url, limit=3, cursor=first["next_cursor"])
    assert second["total"] == 9  # counted with each page

    seen = await rest_of_pages(api, owner, url, first, limit=3)
    assert seen == created[::-1]  # each once, newest first; the late ones head the list
    head = await get_page(api, owner, url, limit=2)
    assert [p["id"] for p in head["items"]] == late[::-1]


async def test_most_votes_orders_by_count_then_newest_through_ties(api: Api) -> None:
    owner, a, b = await api.user("owner"), await api.user("a"), await api.user("b")
    event = await api.event(owner, members=[a, b])
    created = [await api.proposal(a, event, title=f"p{i}") for i in range(8)]
    counts = [2, 0, 1, 0, 2, 0, 0, 1]
    for proposal, n in zip(created, counts, strict=True):
        for voter in (a, b)[:n]:
            await vote(api, voter, event, proposal)
    url = proposals_url(event)

    first = await get_page(api, owner, url, limit=3, sort="most_votes")
    seen = await rest_of_pages(api, owner, url, first, limit=3, sort="most_votes")

    expected = sorted(range(8), key=lambda i: (counts[i], i), reverse=True)
    assert seen == [created[i] for i in expected]
    assert [p["vote_count"] for p in first["items"]] == [2, 2, 1]
    assert first["total"] == 8


async def test_most_votes_while_counts_change_between_pages(api: Api) -> None:
    """What docs/decisions.md promises: a page continues after the last (count, id) seen,
    at the counts of the moment it is read. A proposal that moves from after that
    position to before it is not listed; one that moves the other way is listed again;
    every other proposal exactly once."""
    owner, a, b = await api.user("owner"), await api.user("a"), await api.user("b")
    event = await api.event(owner, members=[a, b])
    p = [await api.proposal(a, event, title=f"p{i}") for i in range(6)]
    for voter in (a, b):
        await vote(api, voter, event, p[0])
    url = proposals_url(event)

    first = await get_page(api, owner, url, limit=2, sort="most_votes")
    assert [x["id"] for x in first["items"]] == [p[0], p[5]]  # the cursor is (0, p5)
    await vote(api, a, event, p[1])  # unseen, 0 -> 1: moves before the cursor
    for voter in (a, b):  # seen, 2 -> 0: moves after it
        await withdraw(api, voter, event, p[0])

    seen = await rest_of_pages(api, owner, url, first, limit=2, sort="most_votes")
    assert seen == [p[0], p[5], p[4], p[3], p[2], p[0]]  # p1 skipped, p0 twice


async def test_recently_decided_lists_decided_ones_once_through_ties_and_new_decisions(
    api: Api,
) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    p = [await api.proposal(owner, event, title=f"p{i}") for i in range(7)]
    await decide(api, owner, event, p[0], "REJECTED")
    for proposal in p[1:6]:
        await vote(api, owner, event, proposal)
    # A threshold of 1 accepts p1..p5 in one UPDATE: one decided_at for all five.
    r = await api.client.patch(
        f"/api/v1/events/{event}", json={"vote_threshold": 1}, headers=owner.auth
    )
    assert r.status_code == 200, r.text
    url = proposals_url(event)
    sort = "recently_decided"

    first = await get_page(api, owner, url, limit=2, sort=sort)
    assert first["total"] == 6  # p6 is undecided: not in this list
    await decide(api, owner, event, p[6], "REJECTED")  # newer than any: heads the list
    await api.proposal(owner, event, title="late")
    seen = await rest_of_pages(api, owner, url, first, limit=2, sort=sort)

    assert seen == [p[5], p[4], p[3], p[2], p[1], p[0]]
    everything = await get_page(api, owner, url, limit=100, sort=sort)
    items = everything["items"]
    assert [x["id"] for x in items] == [p[6], *seen]
    assert len({x["decided_at"] for x in items[1:6]}) == 1  # the tie
    assert everything["total"] == 7


async def test_author_filter_by_id_and_me_with_sort_and_total(api: Api) -> None:
    owner, a, b = await api.user("owner"), await api.user("a"), await api.user("b")
    event = await api.event(owner, members=[a, b])
    by_a = [await api.proposal(a, event, title=f"a{i}") for i in range(3)]
    by_b = [await api.proposal(b, event, title=f"b{i}") for i in range(2)]
    await vote(api, b, event, by_a[0])
    url = proposals_url(event)

    mine = await get_page(api, a, url, author="me")
    assert ([x["id"] for x in mine["items"]], mine["total"]) == (by_a[::-1], 3)
    theirs = await get_page(api, owner, url, author=b.id, limit=1)
    rest = await rest_of_pages(api, owner, url, theirs, author=b.id, limit=1)
    assert (rest, theirs["total"]) == (by_b[::-1], 2)
    voted = await get_page(api, owner, url, author=a.id, sort="most_votes", limit=1)
    assert [x["id"] for x in voted["items"]] == [by_a[0]]
    nobody = await get_page(api, owner, url, author=owner.id)
    assert (nobody["items"], nobody["total"], nobody["next_cursor"]) == ([], 0, None)


async def test_bad_sort_author_and_cursors_are_422(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    for _ in range(3):
        await api.proposal(owner, event)
    url = proposals_url(event)
    newest = (await get_page(api, owner, url, limit=1))["next_cursor"]
    by_votes = (await get_page(api, owner, url, limit=1, sort="most_votes"))["next_cursor"]
    forged = base64.urlsafe_b64encode(b"most_votes~x1~0123abc").decode().rstrip("=")

    async def get(**params: str) -> httpx.Response:
        return await api.client.get(url, params=params, headers=owner.auth)

    problem(await get(sort="oldest"), 422, "validation_error")
    problem(await get(author="you"), 422, "validation_error")
    problem(await get(cursor=by_votes), 422, "cursor_sort_mismatch")
    problem(await get(cursor=by_votes, sort="recently_decided"), 422, "cursor_sort_mismatch")
    problem(await get(cursor=newest, sort="most_votes"), 422, "cursor_sort_mismatch")
    problem(await get(cursor=forged, sort="most_votes"), 422, "invalid_cursor")
    problem(await get(cursor="%%%", sort="most_votes"), 422, "invalid_cursor")
    assert (await get(cursor=by_votes, sort="most_votes")).status_code == 200


async def test_other_lists_carry_their_total(api: Api) -> None:
    owner, member, asker = await api.user("owner"), await api.user("m"), await api.user("x")
    event = await api.event(owner, members=[member])
    await api.event(owner)
    r = await api.client.post(f"/api/v1/events/{event}/memberships", headers=asker.auth)
    assert r.status_code == 201, r.text
    proposal = await api.proposal(member, event)
    for body in ("one", "two", "three"):
        await api.comment(member, event, proposal, body)
    await vote(api, member, event, proposal)
    base = f"/api/v1/events/{event}"

    async def total(url: str, **params: Any) -> Any:
        return (await get_page(api, owner, url, limit=1, **params))["total"]

    assert await total("/api/v1/events") == 2
    assert await total(f"{base}/members") == 2
    assert await total(f"{base}/memberships") == 3
    assert await total(f"{base}/memberships", status="PENDING") == 1
    assert await total(f"{base}/proposals/{proposal}/comments") == 3
    assert await total(f"{base}/proposals/{proposal}/votes") == 1


async def test_most_votes_is_refused_to_members_while_the_event_hides_its_tallies(
    api: Api,
) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member], hidden_tallies=True)
    first, second = [await api.proposal(member, event, title=f"p{i}") for i in range(2)]
    await vote(api, owner, event, first)
    url = proposals_url(event)

    hidden = await api.client.get(url, params={"sort": "most_votes"}, headers=member.auth)
    problem(hidden, 403, "tallies_hidden")
    admin_view = await get_page(api, owner, url, sort="most_votes")
    assert [p["id"] for p in admin_view["items"]] == [first, second]
    for other in ("newest", "recently_decided"):  # no counts in these orders
        await get_page(api, member, url, sort=other)
    closed = await api.client.patch(
        f"/api/v1/events/{event}", json={"status": "CLOSED"}, headers=owner.auth
    )
    assert closed.status_code == 200, closed.text
    shown = await get_page(api, member, url, sort="most_votes")
    assert [(p["id"], p["vote_count"]) for p in shown["items"]] == [(first, 1), (second, 0)]
