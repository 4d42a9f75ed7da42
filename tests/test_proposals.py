"""Proposals over HTTP: creating, listing, deciding, voting and commenting."""

import uuid
from typing import Any

import httpx
import pytest

from tests.api import Api, User, problem

KINDS = ["ASSUMPTION", "CRITERIA", "CONCLUSION"]
DECISIONS = ["ACCEPTED", "REJECTED", "DELETED"]


def proposals_url(event_id: str) -> str:
    return f"/api/v1/events/{event_id}/proposals"


def proposal_url(event_id: str, proposal_id: str) -> str:
    return f"{proposals_url(event_id)}/{proposal_id}"


def comments_url(event_id: str, proposal_id: str) -> str:
    return f"{proposal_url(event_id, proposal_id)}/comments"


async def set_status(
    api: Api, user: User, event_id: str, proposal_id: str, status: str
) -> httpx.Response:
    return await api.client.patch(
        proposal_url(event_id, proposal_id), json={"status": status}, headers=user.auth
    )


async def vote(api: Api, user: User, event_id: str, proposal_id: str) -> httpx.Response:
    return await api.client.post(api.vote_url(event_id, proposal_id), headers=user.auth)


async def withdraw(api: Api, user: User, event_id: str, proposal_id: str) -> httpx.Response:
    return await api.client.delete(f"{api.vote_url(event_id, proposal_id)}/me", headers=user.auth)


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


# -- create ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_create_each_kind(api: Api, kind: str) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])

    r = await api.client.post(
        proposals_url(event),
        json={"kind": kind, "title": " Remote first ", "body": "Because."},
        headers=member.auth,
    )

    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["kind"], p["title"], p["body"], p["event_id"]) == (
        kind,
        "Remote first",
        "Because.",
        event,
    )
    assert (p["author"], p["status"], p["vote_count"]) == (member.person, "PENDING", 0)
    assert (p["decided_by"], p["decided_at"]) == (None, None)
    detail = await api.get_proposal(owner, event, p["id"])
    assert detail["latest_comments"] == []
    assert {k: v for k, v in detail.items() if k != "latest_comments"} == p


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "OPINION", "title": "t"},
        {"kind": "assumption", "title": "t"},
        {"title": "no kind"},
        {"kind": "CRITERIA"},
        {"kind": "CRITERIA", "title": "  "},
    ],
)
async def test_bad_proposals_are_422(api: Api, body: dict[str, str]) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)

    r = await api.client.post(proposals_url(event), json=body, headers=owner.auth)

    problem(r, 422, "validation_error")
    assert (await api.client.get(proposals_url(event), headers=owner.auth)).json()["items"] == []


async def test_only_approved_members_create_or_read_proposals(api: Api) -> None:
    owner, stranger, pending = await api.user("owner"), await api.user("s"), await api.user("p")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    await api.client.post(f"/api/v1/events/{event}/memberships", headers=pending.auth)
    body = {"kind": "CRITERIA", "title": "t"}

    for user in (stranger, pending):
        r = await api.client.post(proposals_url(event), json=body, headers=user.auth)
        problem(r, 403, "not_a_member")
        problem(await api.client.get(proposals_url(event), headers=user.auth), 403, "not_a_member")
        r = await api.client.get(proposal_url(event, proposal), headers=user.auth)
        problem(r, 403, "not_a_member")
        problem(await vote(api, user, event, proposal), 403, "not_a_member")
        r = await api.client.post(
            comments_url(event, proposal), json={"body": "x"}, headers=user.auth
        )
        problem(r, 403, "not_a_member")


# -- list -----------------------------------------------------------------------------------


async def test_list_newest_first_with_filters_and_pages(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    made = [await api.proposal(owner, event, kind=KINDS[i % 3], title=f"p{i}") for i in range(7)]
    # made[i] has kind KINDS[i % 3]; accept made[0] and made[3], reject made[1]
    for i, status in ((0, "ACCEPTED"), (3, "ACCEPTED"), (1, "REJECTED")):
        assert (await set_status(api, owner, event, made[i], status)).status_code == 200
    url = proposals_url(event)

    pages = await api.all_pages(owner, url, limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert ids(pages) == made[::-1]

    assert ids(await api.all_pages(owner, url, limit=1, kind="ASSUMPTION")) == [
        made[6],
        made[3],
        made[0],
    ]
    assert ids(await api.all_pages(owner, url, limit=2, status="ACCEPTED")) == [made[3], made[0]]
    assert ids(await api.all_pages(owner, url, limit=5, status="PENDING")) == [
        made[6],
        made[5],
        made[4],
        made[2],
    ]
    assert ids(await api.all_pages(owner, url, limit=5, kind="ASSUMPTION", status="PENDING")) == [
        made[6]
    ]
    assert ids(await api.all_pages(owner, url, limit=5, kind="CRITERIA", status="REJECTED")) == [
        made[1]
    ]


async def test_list_shows_only_this_events_proposals(api: Api) -> None:
    owner = await api.user("owner")
    event, other = await api.event(owner), await api.event(owner)
    mine = await api.proposal(owner, event)
    await api.proposal(owner, other)

    assert ids(await api.all_pages(owner, proposals_url(event), limit=10)) == [mine]


async def test_list_rejects_bad_parameters(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    url = proposals_url(event)
    for params, code in (
        ({"kind": "OPINION"}, "validation_error"),
        ({"status": "DONE"}, "validation_error"),
        ({"limit": "0"}, "validation_error"),
        ({"limit": "101"}, "validation_error"),
        ({"cursor": "%%%"}, "invalid_cursor"),
    ):
        problem(await api.client.get(url, params=params, headers=owner.auth), 422, code)


# -- detail ---------------------------------------------------------------------------------


async def test_detail_has_the_ten_latest_comments_newest_first(api: Api) -> None:
    owner, member = await api.user("Olivia"), await api.user("Max")
    event = await api.event(owner, members=[member])
    proposal = await api.proposal(owner, event)
    authors = [owner if i % 2 == 0 else member for i in range(12)]
    for i, author in enumerate(authors):
        await api.comment(author, event, proposal, f"comment {i}")

    latest = (await api.get_proposal(member, event, proposal))["latest_comments"]

    assert [c["body"] for c in latest] == [f"comment {i}" for i in range(11, 1, -1)]
    assert [c["author"]["display_name"] for c in latest] == [
        "Olivia" if i % 2 == 0 else "Max" for i in range(11, 1, -1)
    ]
    assert all(c["proposal_id"] == proposal for c in latest)


async def test_a_proposal_of_another_event_is_404_through_this_event(api: Api) -> None:
    owner = await api.user("owner")
    event, other = await api.event(owner), await api.event(owner)
    foreign = await api.proposal(owner, other)
    url = proposal_url(event, foreign)

    for r in (
        await api.client.get(url, headers=owner.auth),
        await set_status(api, owner, event, foreign, "ACCEPTED"),
        await vote(api, owner, event, foreign),
        await withdraw(api, owner, event, foreign),
        await api.client.post(f"{url}/comments", json={"body": "x"}, headers=owner.auth),
        await api.client.get(f"{url}/comments", headers=owner.auth),
    ):
        problem(r, 404, "proposal_not_found")
    untouched = await api.get_proposal(owner, other, foreign)
    assert (untouched["status"], untouched["vote_count"], untouched["latest_comments"]) == (
        "PENDING",
        0,
        [],
    )


async def test_unknown_proposal_is_404(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    missing = str(uuid.uuid4())
    problem(
        await api.client.get(proposal_url(event, missing), headers=owner.auth),
        404,
        "proposal_not_found",
    )
    problem(await vote(api, owner, event, missing), 404, "proposal_not_found")


# -- decisions ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", DECISIONS)
@pytest.mark.parametrize("decider_role", ["ORGANIZER", "ADMIN"])
async def test_organizer_or_admin_decides(api: Api, decider_role: str, status: str) -> None:
    owner, author = await api.user("owner"), await api.user("author")
    event = await api.event(owner, members=[author])
    decider = owner
    if decider_role == "ADMIN":
        decider = await api.user("admin")
        await api.join(owner, event, decider, role="ADMIN")
    proposal = await api.proposal(author, event)

    r = await set_status(api, decider, event, proposal, status)

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]) == (
        status,
        {"kind": "user", **decider.person},
    )
    assert r.json()["decided_at"] is not None
    assert (await api.get_proposal(author, event, proposal))["status"] == status


async def test_the_author_may_delete_but_not_decide(api: Api) -> None:
    owner, author = await api.user("owner"), await api.user("author")
    event = await api.event(owner, members=[author])
    proposal = await api.proposal(author, event)

    problem(await set_status(api, author, event, proposal, "ACCEPTED"), 403, "not_allowed")
    problem(await set_status(api, author, event, proposal, "REJECTED"), 403, "not_allowed")
    assert (await api.get_proposal(owner, event, proposal))["status"] == "PENDING"

    r = await set_status(api, author, event, proposal, "DELETED")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]) == (
        "DELETED",
        {"kind": "user", **author.person},
    )


@pytest.mark.parametrize("status", DECISIONS)
async def test_a_plain_member_cannot_decide_anothers_proposal(api: Api, status: str) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    proposal = await api.proposal(owner, event)

    problem(await set_status(api, member, event, proposal, status), 403, "not_allowed")
    assert (await api.get_proposal(owner, event, proposal))["status"] == "PENDING"


@pytest.mark.parametrize("target", DECISIONS)
@pytest.mark.parametrize("current", DECISIONS)
async def test_decided_proposals_do_not_move(api: Api, current: str, target: str) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    first = await set_status(api, owner, event, proposal, current)
    assert first.status_code == 200, first.text

    problem(await set_status(api, owner, event, proposal, target), 409, "invalid_transition")
    after = await api.get_proposal(owner, event, proposal)
    assert (after["status"], after["decided_at"]) == (current, first.json()["decided_at"])


# ``{}`` (empty_update) and a title (the author's edit): tests/test_editing.py
@pytest.mark.parametrize(
    "body", [{"status": "PENDING"}, {"status": "DONE"}, {"vote_count": 3}, {"title": ""}]
)
async def test_bad_decisions_are_422(api: Api, body: dict[str, str]) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    r = await api.client.patch(proposal_url(event, proposal), json=body, headers=owner.auth)
    problem(r, 422, "validation_error")


# -- votes ----------------------------------------------------------------------------------


async def test_cast_second_vote_and_withdraw(api: Api) -> None:
    owner, a, b = await api.user("owner"), await api.user("a"), await api.user("b")
    event = await api.event(owner, members=[a, b])
    proposal = await api.proposal(owner, event)

    first = await vote(api, a, event, proposal)
    assert first.status_code == 201, first.text
    assert first.json().keys() == {"proposal"}
    assert (first.json()["proposal"]["id"], first.json()["proposal"]["vote_count"]) == (proposal, 1)

    problem(await vote(api, a, event, proposal), 409, "already_voted")
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1

    assert (await vote(api, b, event, proposal)).json()["proposal"]["vote_count"] == 2

    gone = await withdraw(api, a, event, proposal)
    assert gone.status_code == 204, gone.text
    assert gone.content == b""
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1

    problem(await withdraw(api, a, event, proposal), 404, "vote_not_found")
    again = await vote(api, a, event, proposal)  # a withdrawn vote can be cast again
    assert again.json()["proposal"]["vote_count"] == 2


async def test_withdraw_without_a_vote_is_404(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    problem(await withdraw(api, owner, event, proposal), 404, "vote_not_found")
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 0


@pytest.mark.parametrize("status", DECISIONS)
async def test_votes_are_final_once_decided(api: Api, status: str) -> None:
    owner, voter, late = await api.user("owner"), await api.user("v"), await api.user("late")
    event = await api.event(owner, members=[voter, late])
    proposal = await api.proposal(owner, event)
    assert (await vote(api, voter, event, proposal)).status_code == 201
    assert (await set_status(api, owner, event, proposal, status)).status_code == 200

    problem(await vote(api, late, event, proposal), 409, "proposal_not_pending")
    problem(await withdraw(api, voter, event, proposal), 409, "proposal_not_pending")
    problem(await vote(api, voter, event, proposal), 409)
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1


async def test_reaching_the_threshold_accepts_automatically(api: Api) -> None:
    users = [await api.user(n) for n in ("owner", "a", "b", "c")]
    owner, voters = users[0], users[1:]
    event = await api.event(owner, threshold=2, members=voters)
    proposal = await api.proposal(owner, event)

    first = (await vote(api, voters[0], event, proposal)).json()["proposal"]
    second = (await vote(api, voters[1], event, proposal)).json()["proposal"]

    assert (first["status"], first["vote_count"]) == ("PENDING", 1)
    assert (second["status"], second["vote_count"], second["decided_by"]) == (
        "ACCEPTED",
        2,
        {"kind": "auto"},
    )
    assert second["decided_at"] is not None
    problem(await vote(api, voters[2], event, proposal), 409, "proposal_not_pending")


async def test_without_a_threshold_votes_never_accept(api: Api) -> None:
    users = [await api.user(f"u{i}") for i in range(4)]
    event = await api.event(users[0], members=users[1:])
    proposal = await api.proposal(users[0], event)

    for user in users:
        assert (await vote(api, user, event, proposal)).status_code == 201

    p = await api.get_proposal(users[0], event, proposal)
    assert (p["status"], p["vote_count"], p["decided_by"]) == ("PENDING", 4, None)


# -- comments -------------------------------------------------------------------------------


async def test_add_comment(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("Grace")
    event = await api.event(owner, members=[member])
    proposal = await api.proposal(owner, event)

    r = await api.client.post(
        comments_url(event, proposal), json={"body": "  Agreed.  "}, headers=member.auth
    )

    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["proposal_id"], c["author"], c["body"]) == (
        proposal,
        {"id": member.id, "display_name": "Grace"},
        "Agreed.",
    )
    [listed] = (await api.client.get(comments_url(event, proposal), headers=owner.auth)).json()[
        "items"
    ]
    assert listed == c


async def test_comments_list_oldest_first_in_pages(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    made = [await api.comment(owner, event, proposal, f"c{i}") for i in range(5)]
    other = await api.proposal(owner, event)
    await api.comment(owner, event, other, "elsewhere")

    pages = await api.all_pages(owner, comments_url(event, proposal), limit=2)

    assert [len(p) for p in pages] == [2, 2, 1]
    assert ids(pages) == made
    assert [c["body"] for page in pages for c in page] == [f"c{i}" for i in range(5)]


@pytest.mark.parametrize("status", ["ACCEPTED", "REJECTED"])
async def test_decided_proposals_still_take_comments(api: Api, status: str) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    await set_status(api, owner, event, proposal, status)

    await api.comment(owner, event, proposal, "after the fact")


async def test_a_deleted_proposal_takes_no_comments(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    await api.comment(owner, event, proposal, "before")
    assert (await set_status(api, owner, event, proposal, "DELETED")).status_code == 200

    r = await api.client.post(
        comments_url(event, proposal), json={"body": "after"}, headers=owner.auth
    )

    problem(r, 409, "proposal_deleted")
    bodies = [
        c["body"] for c in (await api.get_proposal(owner, event, proposal))["latest_comments"]
    ]
    assert bodies == ["before"]


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {}, {"body": None}])
async def test_empty_comment_is_422(api: Api, body: dict[str, str]) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)

    r = await api.client.post(comments_url(event, proposal), json=body, headers=owner.auth)

    problem(r, 422, "validation_error")
    assert (await api.get_proposal(owner, event, proposal))["latest_comments"] == []
