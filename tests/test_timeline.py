"""The activity timeline: the event's log newest first (``order=desc``), paged backwards
with ``before``. Entries appended between two pages never shift them: every entry that
existed at the first page is read exactly once. Ascending reads (``after``) are as
they were, and the hidden-tally projection applies either way."""

from typing import Any

from tests.api import Api, User, problem


def _url(event: str) -> str:
    return f"/api/v1/events/{event}/log"


async def read(api: Api, user: User, event: str, **params: Any) -> dict[str, Any]:
    r = await api.client.get(_url(event), params=params, headers=user.auth)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def oldest_first(api: Api, user: User, event: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = await read(api, user, event, after=after)
        assert page["next_before"] is None
        entries += page["items"]
        after = page["next_after"]
    return entries


async def test_newest_first_pages_read_each_entry_once_while_entries_arrive(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    for i in range(12):
        await api.proposal(owner, event, title=f"before {i}")
    existing = [entry["seq"] for entry in await oldest_first(api, owner, event)]
    assert len(existing) >= 12

    seen: list[int] = []
    page = await read(api, owner, event, order="desc", limit=5)
    while True:
        assert page["next_after"] is None
        seen += [entry["seq"] for entry in page["items"]]
        await api.proposal(owner, event, title=f"while paging {len(seen)}")  # appended
        if page["next_before"] is None:
            break
        assert page["next_before"] == seen[-1]
        page = await read(api, owner, event, order="desc", before=page["next_before"], limit=5)

    assert seen == sorted(existing, reverse=True)  # newest first, each once, none missed
    newest = await read(api, owner, event, order="desc", limit=1)
    assert newest["items"][0]["seq"] > seen[0]  # what arrived meanwhile heads a new read
    assert newest["items"][0]["data"]["title"].startswith("while paging")


async def test_the_projection_applies_newest_first_too(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member], hidden_tallies=True)
    proposal = await api.proposal(owner, event)
    r = await api.client.post(api.vote_url(event, proposal), headers=member.auth)
    assert r.status_code == 201, r.text

    for reader in (owner, member):
        ascending = await oldest_first(api, reader, event)
        descending = (await read(api, reader, event, order="desc"))["items"]
        assert descending == ascending[::-1]
        [vote] = [e for e in descending if e["type"] == "vote.cast"]
        assert vote["data"]["vote_count"] == (None if reader is member else 1)


async def test_a_direction_and_its_cursor_go_together(api: Api) -> None:
    owner, stranger = await api.user("owner"), await api.user("stranger")
    event = await api.event(owner)
    await api.proposal(owner, event)

    for params in ({"order": "desc", "after": "0"}, {"before": "5"}, {"order": "asc", "before": 5}):
        r = await api.client.get(_url(event), params=params, headers=owner.auth)
        problem(r, 422, "log_order_mismatch")
    for params in ({"order": "sideways"}, {"order": "desc", "before": "0"}):
        r = await api.client.get(_url(event), params=params, headers=owner.auth)
        problem(r, 422, "validation_error")
    r = await api.client.get(_url(event), params={"order": "desc"}, headers=stranger.auth)
    problem(r, 403, "not_a_member")

    # Without order: oldest first from the start, as before.
    page = await read(api, owner, event)
    assert [e["seq"] for e in page["items"]] == sorted(e["seq"] for e in page["items"])
    assert (page["next_after"], page["next_before"]) == (None, None)
    assert (await read(api, owner, event, order="desc", before=1))["items"] == []
