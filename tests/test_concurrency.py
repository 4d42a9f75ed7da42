"""Many people deciding at once: real concurrent HTTP requests against a real server,
then the invariants read back through the API."""

import asyncio
from collections import Counter

import pytest

from tests.api import Api, User

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

USERS = 100


async def _members(api: Api, n: int) -> list[User]:
    return list(await asyncio.gather(*(api.user(f"voter{i}") for i in range(n))))


async def test_same_vote_twice_at_once_counts_once_per_user(api: Api) -> None:
    owner = await api.user("owner")
    voters = await _members(api, USERS)
    event = await api.event(owner, members=voters)
    proposal = await api.proposal(owner, event)
    url = api.vote_url(event, proposal)

    responses = await asyncio.gather(
        *(api.client.post(url, headers=v.auth) for v in voters for _ in range(2))
    )

    for i, voter in enumerate(voters):
        pair = responses[2 * i : 2 * i + 2]
        assert sorted(r.status_code for r in pair) == [201, 409], voter
        assert next(r for r in pair if r.status_code == 409).json()["code"] == "already_voted"
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == USERS


async def test_threshold_accepts_exactly_once(api: Api) -> None:
    owner = await api.user("owner")
    voters = await _members(api, USERS)
    event = await api.event(owner, threshold=50, members=voters)
    proposal = await api.proposal(owner, event)
    url = api.vote_url(event, proposal)

    responses = await asyncio.gather(*(api.client.post(url, headers=v.auth) for v in voters))

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 50, 409: 50}
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"proposal_not_pending"}
    accepted_replies = [
        r
        for r in responses
        if r.status_code == 201 and r.json()["proposal"]["status"] == "ACCEPTED"
    ]
    assert len(accepted_replies) == 1
    assert accepted_replies[0].json()["proposal"]["vote_count"] == 50
    final = await api.get_proposal(owner, event, proposal)
    assert (final["status"], final["vote_count"], final["decided_by"]) == (
        "ACCEPTED",
        50,
        {"kind": "auto"},
    )
    log = await _log_types(api, owner, event)
    assert log.count("proposal.updated") == 1 and log.count("vote.cast") == 50


async def test_concurrent_admin_decisions_one_wins(api: Api) -> None:
    owner = await api.user("owner")
    admins = await _members(api, 4)
    event = await api.event(owner)
    for admin in admins:
        await api.join(owner, event, admin, role="ADMIN")
    proposal = await api.proposal(owner, event)
    deciders = [owner, *admins]
    url = f"/api/v1/events/{event}/proposals/{proposal}"

    responses = await asyncio.gather(
        *(
            api.client.patch(
                url,
                json={"status": "ACCEPTED" if i % 2 else "REJECTED"},
                headers=deciders[i % 5].auth,
            )
            for i in range(20)
        )
    )

    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1
    assert all(
        r.status_code == 409 and r.json()["code"] == "invalid_transition"
        for r in responses
        if r not in ok
    )
    final = await api.get_proposal(owner, event, proposal)
    assert final["status"] == ok[0].json()["status"]
    assert (await _log_types(api, owner, event)).count("proposal.updated") == 1


async def test_concurrent_retries_with_one_idempotency_key(api: Api) -> None:
    owner = await api.user("owner")
    voter = await api.user("voter")
    event = await api.event(owner, members=[voter])
    proposal, other = await api.proposal(owner, event), await api.proposal(owner, event)
    headers = {**voter.auth, "Idempotency-Key": "vote-once"}

    responses = await asyncio.gather(
        *(api.client.post(api.vote_url(event, proposal), headers=headers) for _ in range(10))
    )

    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert len({r.content for r in created}) == 1
    for r in responses:
        assert r.status_code == 201 or (
            r.status_code == 409 and r.json()["code"] == "idempotency_in_progress"
        )
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1

    retry = await api.client.post(api.vote_url(event, proposal), headers=headers)
    assert retry.status_code == 201
    assert retry.content == created[0].content
    assert retry.headers["idempotent-replayed"] == "true"

    reused = await api.client.post(api.vote_url(event, other), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert (await api.get_proposal(owner, event, other))["vote_count"] == 0


async def _log_types(api: Api, user: User, event: str) -> list[str]:
    return [entry["type"] for entry in await api.log(user, event)]
