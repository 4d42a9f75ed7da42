"""Editing what you wrote: authors edit a PENDING proposal before its first vote (or with
votes, if the event allows it), withdraw it, edit their comments; comments are deleted
as tombstones. Every change is logged, and none lets an edit slip in after a counted
vote, or a vote go uncounted."""

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quorum.decisions.models import Vote
from tests.api import Api, User, problem
from tests.services import Backend

VOTERS = 8
ROUNDS = 4


def _url(event: str, proposal: str) -> str:
    return f"/api/v1/events/{event}/proposals/{proposal}"


async def _vote_rows(backend: Backend, proposal: str) -> int:
    """The Vote rows of the proposal, counted in the database itself."""
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(Vote.proposal_id == uuid.UUID(proposal))
            return int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def _edit(api: Api, user: User, event: str, proposal: str, **body: Any) -> httpx.Response:
    return await api.client.patch(_url(event, proposal), json=body, headers=user.auth)


async def test_the_author_edits_a_pending_proposal_until_its_first_vote(api: Api) -> None:
    owner, author = await api.user("owner"), await api.user("author")
    event = await api.event(owner, members=[author])
    proposal = await api.proposal(author, event)

    edited = await _edit(api, author, event, proposal, title="Better", body="Details")

    assert edited.status_code == 200, edited.text
    assert (edited.json()["title"], edited.json()["body"]) == ("Better", "Details")
    assert edited.json()["edited_at"] is not None and edited.json()["status"] == "PENDING"
    last = (await api.log(owner, event))[-1]
    assert last["type"] == "proposal.updated" and last["data"] == edited.json()
    problem(await _edit(api, owner, event, proposal, title="Mine"), 403, "not_author")
    problem(await _edit(api, author, event, proposal), 422, "empty_update")
    both = await _edit(api, author, event, proposal, status="DELETED", title="x")
    problem(both, 422, "status_or_content")
    assert (await api.client.post(api.vote_url(event, proposal), headers=owner.auth)).is_success
    problem(await _edit(api, author, event, proposal, body="x"), 409, "proposal_has_votes")
    decided = await _edit(api, owner, event, proposal, status="ACCEPTED")
    assert decided.status_code == 200, decided.text
    problem(await _edit(api, author, event, proposal, body="x"), 409, "proposal_not_pending")


async def test_an_event_may_allow_edits_with_votes(api: Api) -> None:
    owner = await api.user("owner")
    created = await api.client.post(
        "/api/v1/events",
        json={"title": "Drafts", "allow_edits_with_votes": True},
        headers=owner.auth,
    )
    assert created.status_code == 201 and created.json()["allow_edits_with_votes"] is True
    event = created.json()["id"]
    proposal = await api.proposal(owner, event)
    assert (await api.client.post(api.vote_url(event, proposal), headers=owner.auth)).is_success

    edited = await _edit(api, owner, event, proposal, title="Reworded")
    assert edited.status_code == 200, edited.text
    assert edited.json()["vote_count"] == 1

    off = await api.client.patch(
        f"/api/v1/events/{event}", json={"allow_edits_with_votes": False}, headers=owner.auth
    )
    assert off.status_code == 200 and off.json()["allow_edits_with_votes"] is False
    problem(await _edit(api, owner, event, proposal, title="Again"), 409, "proposal_has_votes")


async def test_the_author_withdraws_a_pending_proposal_and_nobody_else_does(api: Api) -> None:
    owner, author = await api.user("owner"), await api.user("author")
    event = await api.event(owner, members=[author])
    proposal = await api.proposal(author, event)

    problem(await _edit(api, owner, event, proposal, status="WITHDRAWN"), 403, "not_allowed")
    withdrawn = await _edit(api, author, event, proposal, status="WITHDRAWN")

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "WITHDRAWN"
    last = (await api.log(owner, event))[-1]
    assert (last["type"], last["data"]["status"]) == ("proposal.updated", "WITHDRAWN")
    vote = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
    problem(vote, 409, "proposal_not_pending")
    again = await _edit(api, author, event, proposal, status="WITHDRAWN")
    problem(again, 409, "invalid_transition")


async def test_comments_are_edited_by_their_author_and_deleted_as_tombstones(api: Api) -> None:
    owner, author, other = await api.user("owner"), await api.user("a"), await api.user("o")
    event = await api.event(owner, members=[author, other])
    proposal = await api.proposal(owner, event)
    comment = await api.comment(author, event, proposal, "First")
    other_comment = await api.comment(author, event, proposal, "Second")
    url = f"{_url(event, proposal)}/comments"

    edited = await api.client.patch(f"{url}/{comment}", json={"body": "1st"}, headers=author.auth)
    assert edited.status_code == 200, edited.text
    assert edited.json()["body"] == "1st" and edited.json()["edited_at"] is not None
    by_other = await api.client.patch(f"{url}/{comment}", json={"body": "x"}, headers=other.auth)
    problem(by_other, 403, "not_author")
    problem(await api.client.delete(f"{url}/{comment}", headers=other.auth), 403, "not_allowed")
    assert (await api.client.delete(f"{url}/{comment}", headers=author.auth)).status_code == 204
    by_admin = await api.client.delete(f"{url}/{other_comment}", headers=owner.auth)
    assert by_admin.status_code == 204
    problem(
        await api.client.delete(f"{url}/{comment}", headers=author.auth), 409, "comment_deleted"
    )
    gone = await api.client.patch(f"{url}/{comment}", json={"body": "x"}, headers=author.auth)
    problem(gone, 409, "comment_deleted")
    missing = await api.client.delete(f"{url}/{uuid.uuid4()}", headers=author.auth)
    problem(missing, 404, "comment_not_found")

    listed = (await api.client.get(url, headers=other.auth)).json()["items"]
    assert [(c["id"], c["deleted"], c["body"]) for c in listed] == [
        (comment, True, ""),
        (other_comment, True, ""),
    ]
    types = [e["type"] for e in (await api.log(owner, event))[-3:]]
    assert types == ["comment.updated", "comment.deleted", "comment.deleted"]


async def test_an_edit_racing_votes_wins_before_every_vote_or_is_refused(
    api: Api, backend: Backend
) -> None:
    owner = await api.user("owner")
    voters = [await api.user(f"v{i}") for i in range(VOTERS)]
    event = await api.event(owner, members=voters)
    outcomes = []
    for round_ in range(ROUNDS):
        proposal = await api.proposal(owner, event)
        votes = [api.client.post(api.vote_url(event, proposal), headers=v.auth) for v in voters]
        # The edit goes first in some rounds, last in others: both outcomes get their chance.
        edit = _edit(api, owner, event, proposal, title=f"Edited {round_}")
        racing = [edit, *votes] if round_ % 2 == 0 else [*votes, edit]
        responses = await asyncio.gather(*racing)
        edit_response = responses[0] if round_ % 2 == 0 else responses[-1]
        vote_responses = [r for r in responses if r is not edit_response]

        assert all(r.status_code == 201 for r in vote_responses), [r.text for r in responses]
        log = [e for e in await api.log(owner, event) if _about(e, proposal)]
        cast = [e["seq"] for e in log if e["type"] == "vote.cast"]
        if edit_response.status_code == 200:
            assert edit_response.json()["vote_count"] == 0
            (edit_entry,) = [e for e in log if e["type"] == "proposal.updated"]
            assert edit_entry["seq"] < min(cast), log  # before every counted vote
            outcomes.append("edited")
        else:
            problem(edit_response, 409, "proposal_has_votes")
            assert not [e for e in log if e["type"] == "proposal.updated"], log
            outcomes.append("refused")
        final = await api.get_proposal(owner, event, proposal)
        assert final["vote_count"] == VOTERS == len(cast) == await _vote_rows(backend, proposal)
        assert final["title"] == (f"Edited {round_}" if outcomes[-1] == "edited" else "P")


async def test_comment_edits_and_deletions_under_concurrent_votes_keep_counts_exact(
    api: Api, backend: Backend
) -> None:
    owner = await api.user("owner")
    voters = [await api.user(f"v{i}") for i in range(VOTERS)]
    event = await api.event(owner, members=voters)
    proposal = await api.proposal(owner, event)
    comments = [await api.comment(v, event, proposal, "Hmm") for v in voters]
    url = f"{_url(event, proposal)}/comments"

    changes = [
        api.client.patch(f"{url}/{c}", json={"body": "Yes"}, headers=v.auth)
        if i % 2
        else api.client.delete(f"{url}/{c}", headers=v.auth)
        for i, (c, v) in enumerate(zip(comments, voters, strict=True))
    ]
    votes = [api.client.post(api.vote_url(event, proposal), headers=v.auth) for v in voters]
    withdrawals = [
        api.client.delete(f"{api.vote_url(event, proposal)}/me", headers=v.auth) for v in voters[:2]
    ]
    responses = await asyncio.gather(*votes, *changes)
    assert all(r.is_success for r in responses), [r.text for r in responses]
    withdrawn = await asyncio.gather(*withdrawals)
    assert all(r.status_code == 204 for r in withdrawn), [r.text for r in withdrawn]

    final = await api.get_proposal(owner, event, proposal)
    assert final["vote_count"] == VOTERS - 2 == await _vote_rows(backend, proposal)
    listed = (await api.client.get(url, headers=owner.auth)).json()["items"]
    assert [c["deleted"] for c in listed] == [i % 2 == 0 for i in range(VOTERS)]


def _about(entry: dict[str, Any], proposal: str) -> bool:
    data = entry["data"]
    return bool(data.get("proposal_id") == proposal or data.get("id") == proposal)


async def test_deleting_or_withdrawing_a_proposal_under_concurrent_votes_keeps_counts_exact(
    api: Api, backend: Backend
) -> None:
    """A decision racing votes: each vote counts before it (201) or is refused after it
    (409 ``proposal_not_pending``); the count, the vote rows and the log agree."""
    owner = await api.user("owner")
    voters = [await api.user(f"v{i}") for i in range(VOTERS)]
    event = await api.event(owner, members=voters)
    for round_ in range(ROUNDS):
        target = "DELETED" if round_ % 2 == 0 else "WITHDRAWN"
        proposal = await api.proposal(owner, event)  # the owner is its author: both apply
        votes = [api.client.post(api.vote_url(event, proposal), headers=v.auth) for v in voters]
        decision = _edit(api, owner, event, proposal, status=target)
        middle = len(votes) // 2
        responses = await asyncio.gather(*votes[:middle], decision, *votes[middle:])
        decided = responses[middle]
        vote_responses = responses[:middle] + responses[middle + 1 :]

        assert decided.status_code == 200, decided.text
        counted = [r for r in vote_responses if r.status_code == 201]
        for r in vote_responses:
            if r.status_code != 201:
                problem(r, 409, "proposal_not_pending")
        log = [e for e in await api.log(owner, event) if _about(e, proposal)]
        cast = [e["data"]["vote_count"] for e in log if e["type"] == "vote.cast"]
        assert cast == list(range(1, len(counted) + 1)), log  # one row more at each commit
        assert log[-1]["type"] == "proposal.updated", log  # nothing counted after it
        final = await api.get_proposal(owner, event, proposal)
        assert final["status"] == target
        assert final["vote_count"] == len(counted) == await _vote_rows(backend, proposal)
