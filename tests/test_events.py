"""Events over HTTP: creating, listing (filters, cursor pages), reading, changing, closing."""

import uuid
from typing import Any

import pytest

from tests.api import Api, User, problem

EVENTS = "/api/v1/events"


def event_url(event_id: str) -> str:
    return f"{EVENTS}/{event_id}"


async def list_events(api: Api, user: User, **params: Any) -> dict[str, Any]:
    r = await api.client.get(EVENTS, params=params, headers=user.auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def listed_ids(api: Api, user: User, **params: Any) -> set[str]:
    return {e["id"] for e in (await list_events(api, user, limit=100, **params))["items"]}


async def patch_event(api: Api, user: User, event_id: str, **body: Any) -> dict[str, Any]:
    r = await api.client.patch(event_url(event_id), json=body, headers=user.auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


# -- create -------------------------------------------------------------------------------


async def test_create_returns_the_event_and_makes_the_caller_its_organizer(api: Api) -> None:
    owner = await api.user("owner")

    r = await api.client.post(
        EVENTS,
        json={"title": "  Pick a venue  ", "description": "Where we meet", "vote_threshold": 3},
        headers=owner.auth,
    )

    assert r.status_code == 201, r.text
    event = r.json()
    assert event["title"] == "Pick a venue"
    assert event["description"] == "Where we meet"
    assert event["vote_threshold"] == 3
    assert event["organizer"] == owner.person
    assert event["status"] == "OPEN"
    memberships = await api.client.get(f"{event_url(event['id'])}/memberships", headers=owner.auth)
    assert memberships.status_code == 200, memberships.text
    [mine] = memberships.json()["items"]
    assert (mine["user"], mine["role"], mine["status"]) == (owner.person, "ORGANIZER", "APPROVED")


async def test_create_defaults(api: Api) -> None:
    owner = await api.user("owner")
    r = await api.client.post(EVENTS, json={"title": "Minimal"}, headers=owner.auth)
    assert r.status_code == 201, r.text
    assert (r.json()["description"], r.json()["vote_threshold"]) == ("", None)


@pytest.mark.parametrize(
    "body",
    [{}, {"title": ""}, {"title": "   "}, {"title": "t", "vote_threshold": 0}, {"title": None}],
)
async def test_create_with_bad_input_is_422(api: Api, body: dict[str, Any]) -> None:
    owner = await api.user("owner")
    problem(await api.client.post(EVENTS, json=body, headers=owner.auth), 422, "validation_error")
    assert await listed_ids(api, owner) == set()


# -- list ---------------------------------------------------------------------------------


async def test_list_shows_only_events_the_caller_is_an_approved_member_of(api: Api) -> None:
    alice, bob, carol = await api.user("alice"), await api.user("bob"), await api.user("carol")
    alices = await api.event(alice)
    bobs = await api.event(bob)
    shared = await api.event(alice, members=[bob])
    r = await api.client.post(f"{event_url(bobs)}/memberships", headers=carol.auth)
    assert r.status_code == 201  # carol's request is still PENDING

    assert await listed_ids(api, alice) == {alices, shared}
    assert await listed_ids(api, bob) == {bobs, shared}
    assert await listed_ids(api, carol) == set()


async def test_rejected_members_do_not_see_the_event(api: Api) -> None:
    owner, outsider = await api.user("owner"), await api.user("outsider")
    event = await api.event(owner)
    r = await api.client.post(f"{event_url(event)}/memberships", headers=outsider.auth)
    d = await api.client.patch(
        f"{event_url(event)}/memberships/{r.json()['id']}",
        json={"status": "REJECTED"},
        headers=owner.auth,
    )
    assert d.status_code == 200, d.text

    assert await listed_ids(api, outsider) == set()
    problem(await api.client.get(event_url(event), headers=outsider.auth), 403, "not_a_member")


async def test_list_filters_by_status(api: Api) -> None:
    owner = await api.user("owner")
    open_one, closed_one = await api.event(owner), await api.event(owner)
    await patch_event(api, owner, closed_one, status="CLOSED")

    assert await listed_ids(api, owner, status="OPEN") == {open_one}
    assert await listed_ids(api, owner, status="CLOSED") == {closed_one}
    assert await listed_ids(api, owner) == {open_one, closed_one}
    problem(
        await api.client.get(EVENTS, params={"status": "ARCHIVED"}, headers=owner.auth),
        422,
        "validation_error",
    )


async def test_q_searches_titles_case_insensitively(api: Api) -> None:
    owner = await api.user("owner")
    budget = await api.event(owner, title="Annual BUDGET review")
    venue = await api.event(owner, title="Pick a venue")

    assert await listed_ids(api, owner, q="budget") == {budget}
    assert await listed_ids(api, owner, q="Budget Rev") == {budget}
    assert await listed_ids(api, owner, q="VENUE") == {venue}
    assert await listed_ids(api, owner, q="a") == {budget, venue}
    assert await listed_ids(api, owner, q="nothing like it") == set()


async def test_q_is_case_insensitive_beyond_ascii(api: Api) -> None:
    owner = await api.user("owner")
    school = await api.event(owner, title="École d'été")
    greek = await api.event(owner, title="ΣΟΦΙΑ review")

    assert await listed_ids(api, owner, q="école") == {school}
    assert await listed_ids(api, owner, q="D'ÉTÉ") == {school}
    assert await listed_ids(api, owner, q="σοφια") == {greek}


async def test_q_treats_wildcards_literally(api: Api) -> None:
    owner = await api.user("owner")
    percent = await api.event(owner, title="Raise 100% of the fund")
    hundred = await api.event(owner, title="Raise 1000 for the fund")
    snake = await api.event(owner, title="rename snake_case fields")
    other = await api.event(owner, title="rename snakeXcase fields")
    backslash = await api.event(owner, title=r"path C:\temp")

    assert await listed_ids(api, owner, q="100%") == {percent}
    assert await listed_ids(api, owner, q="%") == {percent}
    assert await listed_ids(api, owner, q="e_c") == {snake}
    assert await listed_ids(api, owner, q="_") == {snake}
    assert await listed_ids(api, owner, q="snake") == {snake, other}
    assert await listed_ids(api, owner, q="raise 100") == {percent, hundred}
    assert await listed_ids(api, owner, q="\\") == {backslash}
    assert await listed_ids(api, owner, q=r"C:\t") == {backslash}


async def test_q_combines_with_status(api: Api) -> None:
    owner = await api.user("owner")
    open_one = await api.event(owner, title="Offsite plan")
    closed_one = await api.event(owner, title="Offsite plan (old)")
    await api.event(owner, title="Something else")
    await patch_event(api, owner, closed_one, status="CLOSED")

    assert await listed_ids(api, owner, q="offsite", status="OPEN") == {open_one}
    assert await listed_ids(api, owner, q="offsite", status="CLOSED") == {closed_one}


async def test_cursor_pages_cover_every_event_once_newest_first(api: Api) -> None:
    owner = await api.user("owner")
    created = [await api.event(owner, title=f"Event {i}") for i in range(7)]

    pages = await api.all_pages(owner, EVENTS, limit=3)

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e["id"] for page in pages for e in page] == created[::-1]


async def test_events_created_between_pages_are_neither_repeated_nor_skipped(api: Api) -> None:
    owner = await api.user("owner")
    created = [await api.event(owner) for _ in range(4)]
    first = await list_events(api, owner, limit=2)
    newer = await api.event(owner)  # sorts before the cursor: not on the next pages

    rest = await api.all_pages(owner, EVENTS, limit=2, cursor=first["next_cursor"])

    seen = [e["id"] for e in first["items"]] + [e["id"] for page in rest for e in page]
    assert seen == created[::-1]
    assert newer in await listed_ids(api, owner)


async def test_exactly_a_full_last_page_has_no_next_cursor(api: Api) -> None:
    owner = await api.user("owner")
    for _ in range(4):
        await api.event(owner)

    pages = await api.all_pages(owner, EVENTS, limit=2)

    assert [len(p) for p in pages] == [2, 2]
    assert (await list_events(api, owner, limit=100))["next_cursor"] is None


async def test_limit_bounds(api: Api) -> None:
    owner = await api.user("owner")
    for _ in range(2):
        await api.event(owner)
    assert len((await list_events(api, owner, limit=1))["items"]) == 1
    assert len((await list_events(api, owner, limit=100))["items"]) == 2
    assert len((await list_events(api, owner))["items"]) == 2  # default 20
    for bad in ("0", "101", "-1", "ten"):
        r = await api.client.get(EVENTS, params={"limit": bad}, headers=owner.auth)
        problem(r, 422, "validation_error")


@pytest.mark.parametrize("cursor", ["garbage", "!!!!", "AAAA", "é", "not-a-cursor-at-all"])
async def test_garbage_cursor_is_422_invalid_cursor(api: Api, cursor: str) -> None:
    owner = await api.user("owner")
    r = await api.client.get(EVENTS, params={"cursor": cursor}, headers=owner.auth)
    problem(r, 422, "invalid_cursor")


# -- read -------------------------------------------------------------------------------


async def test_members_read_the_event(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, threshold=2, members=[member], title="Readable")

    r = await api.client.get(event_url(event), headers=member.auth)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["id"], body["title"], body["vote_threshold"]) == (event, "Readable", 2)
    assert body["organizer"] == owner.person


async def test_non_members_and_pending_members_are_403(api: Api) -> None:
    owner, stranger, pending = await api.user("owner"), await api.user("x"), await api.user("p")
    event = await api.event(owner)
    r = await api.client.post(f"{event_url(event)}/memberships", headers=pending.auth)
    assert r.status_code == 201, r.text

    for user in (stranger, pending):
        problem(await api.client.get(event_url(event), headers=user.auth), 403, "not_a_member")
        r = await api.client.patch(event_url(event), json={"title": "x"}, headers=user.auth)
        problem(r, 403, "not_a_member")


async def test_unknown_event_is_404(api: Api) -> None:
    user = await api.user()
    missing = event_url(str(uuid.uuid4()))
    problem(await api.client.get(missing, headers=user.auth), 404, "event_not_found")
    r = await api.client.patch(missing, json={"title": "x"}, headers=user.auth)
    problem(r, 404, "event_not_found")
    r = await api.client.post(f"{missing}/memberships", headers=user.auth)
    problem(r, 404, "event_not_found")


# -- update ---------------------------------------------------------------------------------


async def test_organizer_updates_the_event(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])

    updated = await patch_event(
        api, owner, event, title="New title", description="New text", vote_threshold=5
    )

    assert (updated["title"], updated["description"], updated["vote_threshold"]) == (
        "New title",
        "New text",
        5,
    )
    r = await api.client.get(event_url(event), headers=member.auth)
    assert r.json() == updated


async def test_fields_left_out_stay_as_they_were(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner, threshold=4, title="Keep me")

    updated = await patch_event(api, owner, event, description="only this")

    assert (updated["title"], updated["vote_threshold"]) == ("Keep me", 4)


async def test_an_admin_updates_the_event(api: Api) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    event = await api.event(owner)
    await api.join(owner, event, admin, role="ADMIN")

    assert (await patch_event(api, admin, event, title="By an admin"))["title"] == "By an admin"


async def test_a_plain_member_cannot_update_the_event(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member], title="Unchanged")

    r = await api.client.patch(event_url(event), json={"title": "Hijacked"}, headers=member.auth)

    problem(r, 403, "admin_required")
    assert (await api.client.get(event_url(event), headers=owner.auth)).json()["title"] == (
        "Unchanged"
    )


async def test_vote_threshold_can_be_set_to_null(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner, threshold=3)

    updated = await patch_event(api, owner, event, vote_threshold=None)

    assert updated["vote_threshold"] is None
    r = await api.client.get(event_url(event), headers=owner.auth)
    assert r.json()["vote_threshold"] is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "empty_update"),
        ({"title": None}, "title_required"),
        ({"status": None}, "status_required"),
        ({"vote_threshold": 0}, "validation_error"),
        ({"status": "ARCHIVED"}, "validation_error"),
        ({"organizer_id": str(uuid.uuid4())}, "validation_error"),
        ({"organizer": {"id": str(uuid.uuid4()), "display_name": "X"}}, "validation_error"),
    ],
)
async def test_bad_updates_are_422(api: Api, body: dict[str, Any], code: str) -> None:
    owner = await api.user("owner")
    event = await api.event(owner, title="Same")

    r = await api.client.patch(event_url(event), json=body, headers=owner.auth)

    problem(r, 422, code)
    after = (await api.client.get(event_url(event), headers=owner.auth)).json()
    assert (after["title"], after["status"], after["organizer"]) == ("Same", "OPEN", owner.person)


async def test_description_null_clears_it(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    await patch_event(api, owner, event, description="something")

    assert (await patch_event(api, owner, event, description=None))["description"] == ""


# -- closing --------------------------------------------------------------------------------


async def test_a_closed_event_accepts_no_changes(api: Api) -> None:
    owner, member, newcomer = await api.user("owner"), await api.user("m"), await api.user("n")
    event = await api.event(owner, members=[member])
    proposal = await api.proposal(owner, event)
    voted = await api.proposal(owner, event)
    assert (
        await api.client.post(api.vote_url(event, voted), headers=member.auth)
    ).status_code == 201

    closed = await patch_event(api, owner, event, status="CLOSED")
    assert closed["status"] == "CLOSED"

    base = event_url(event)
    attempts = {
        "proposal": api.client.post(
            f"{base}/proposals", json={"kind": "ASSUMPTION", "title": "t"}, headers=member.auth
        ),
        "vote": api.client.post(api.vote_url(event, proposal), headers=member.auth),
        "withdraw": api.client.delete(f"{api.vote_url(event, voted)}/me", headers=member.auth),
        "comment": api.client.post(
            f"{base}/proposals/{proposal}/comments", json={"body": "hi"}, headers=member.auth
        ),
        "membership": api.client.post(f"{base}/memberships", headers=newcomer.auth),
        "decision": api.client.patch(
            f"{base}/proposals/{proposal}", json={"status": "ACCEPTED"}, headers=owner.auth
        ),
    }
    for what, attempt in attempts.items():
        r = await attempt
        assert r.status_code == 409, (what, r.text)
        problem(r, 409, "event_closed")

    # Nothing changed, and the event can still be read.
    detail = await api.get_proposal(member, event, proposal)
    assert (detail["status"], detail["vote_count"], detail["latest_comments"]) == ("PENDING", 0, [])
    assert (await api.get_proposal(member, event, voted))["vote_count"] == 1
    r = await api.client.get(f"{base}/proposals", headers=member.auth)
    assert len(r.json()["items"]) == 2


@pytest.mark.parametrize(
    "body",
    [{"title": "x"}, {"status": "CLOSED"}, {"vote_threshold": 2}, {"description": "d"}],
)
async def test_a_closed_event_can_only_be_reopened(api: Api, body: dict[str, Any]) -> None:
    owner = await api.user("owner")
    event = await api.event(owner, title="Closed")
    await patch_event(api, owner, event, status="CLOSED")

    r = await api.client.patch(event_url(event), json=body, headers=owner.auth)

    problem(r, 409, "event_closed")
    after = (await api.client.get(event_url(event), headers=owner.auth)).json()
    assert (after["title"], after["vote_threshold"], after["description"]) == ("Closed", None, "")


async def test_reopening_makes_the_event_writable_again(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    await patch_event(api, owner, event, status="CLOSED")

    reopened = await patch_event(api, owner, event, status="OPEN", title="Round two")

    assert (reopened["status"], reopened["title"]) == ("OPEN", "Round two")
    proposal = await api.proposal(member, event)
    vote = await api.client.post(api.vote_url(event, proposal), headers=member.auth)
    assert vote.status_code == 201, vote.text
    assert vote.json()["proposal"]["vote_count"] == 1
