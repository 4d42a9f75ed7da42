"""Changing an event's threshold decides what it now decides: proposals that already have
enough votes are accepted by the change itself, logged as ``decided_by: auto``, and
never twice, however votes race with it."""

import asyncio
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from tests.api import Api, User


async def _vote(api: Api, voter: User, event: str, proposal: str) -> None:
    r = await api.client.post(api.vote_url(event, proposal), headers=voter.auth)
    assert r.status_code == 201, r.text


async def test_lowering_the_threshold_accepts_proposals_that_already_reach_it(api: Api) -> None:
    owner = await api.user("owner")
    voters = [await api.user(f"v{i}") for i in range(3)]
    event = await api.event(owner, threshold=10, members=voters)
    three, two = await api.proposal(owner, event), await api.proposal(owner, event)
    for voter in voters:
        await _vote(api, voter, event, three)
    for voter in voters[:2]:
        await _vote(api, voter, event, two)

    r = await api.client.patch(
        f"/api/v1/events/{event}", json={"vote_threshold": 3}, headers=owner.auth
    )

    assert r.status_code == 200, r.text
    accepted = await api.get_proposal(owner, event, three)
    assert (accepted["status"], accepted["decided_by"], accepted["vote_count"]) == (
        "ACCEPTED",
        {"kind": "auto"},
        3,
    )
    assert accepted["decided_at"] is not None
    assert (await api.get_proposal(owner, event, two))["status"] == "PENDING"
    log = await api.log(owner, event)
    assert [e["type"] for e in log[-2:]] == ["event.updated", "proposal.updated"]
    assert log[-1]["data"]["id"] == three and log[-1]["data"]["status"] == "ACCEPTED"
    assert r.json()["last_seq"] == log[-1]["seq"]


async def test_raising_the_threshold_or_clearing_it_accepts_nothing(api: Api) -> None:
    owner = await api.user("owner")
    voter = await api.user("voter")
    event = await api.event(owner, threshold=5, members=[voter])
    proposal = await api.proposal(owner, event)
    await _vote(api, voter, event, proposal)
    for threshold in (7, None):
        r = await api.client.patch(
            f"/api/v1/events/{event}", json={"vote_threshold": threshold}, headers=owner.auth
        )
        assert r.status_code == 200, r.text
    assert (await api.get_proposal(owner, event, proposal))["status"] == "PENDING"


async def test_a_closed_event_reopened_with_a_lower_threshold_accepts_on_reopening(
    api: Api,
) -> None:
    owner = await api.user("owner")
    voter = await api.user("voter")
    event = await api.event(owner, threshold=5, members=[voter])
    proposal = await api.proposal(owner, event)
    await _vote(api, voter, event, proposal)
    url = f"/api/v1/events/{event}"
    assert (await api.client.patch(url, json={"status": "CLOSED"}, headers=owner.auth)).is_success

    r = await api.client.patch(
        url, json={"status": "OPEN", "vote_threshold": 1}, headers=owner.auth
    )

    assert r.status_code == 200, r.text
    assert (await api.get_proposal(owner, event, proposal))["status"] == "ACCEPTED"


async def test_threshold_lowered_while_votes_race_accepts_each_proposal_exactly_once(
    api: Api,
) -> None:
    """Votes in flight on every proposal while the threshold drops, step by step, from out
    of reach to 5: afterwards no proposal is left PENDING at or above the threshold, each
    was accepted once, and each count equals the votes that were answered 201."""
    owner = await api.user("owner")
    voters = list(await asyncio.gather(*(api.user(f"voter{i}") for i in range(24))))
    event = await api.event(owner, threshold=1000, members=voters)
    proposals = [await api.proposal(owner, event, title=f"P{i}") for i in range(6)]
    votes = [(voter, p) for voter in voters for p in proposals]

    async def vote(voter: User, proposal: str) -> tuple[str, int, str | None]:
        r = await api.client.post(api.vote_url(event, proposal), headers=voter.auth)
        return proposal, r.status_code, r.json().get("code") if r.status_code != 201 else None

    async def lower(threshold: int) -> int:
        r = await api.client.patch(
            f"/api/v1/events/{event}", json={"vote_threshold": threshold}, headers=owner.auth
        )
        return r.status_code

    steps = [20, 14, 10, 7, 5]
    tasks: list[Coroutine[Any, Any, tuple[str, int, str | None] | int]] = []
    every = len(votes) // (len(steps) + 1)
    for i, (voter, proposal) in enumerate(votes):
        if i and i % every == 0 and steps:
            tasks.append(lower(steps.pop(0)))
        tasks.append(vote(voter, proposal))
    results = await asyncio.gather(*tasks)

    assert [r for r in results if isinstance(r, int)] == [200] * 5
    outcomes = [r for r in results if isinstance(r, tuple)]
    assert {code for _, status, code in outcomes if status != 201} <= {"proposal_not_pending"}
    counted = Counter(p for p, status, _ in outcomes if status == 201)
    log = await api.log(owner, event)
    acceptances = Counter(
        e["data"]["id"]
        for e in log
        if e["type"] == "proposal.updated" and e["data"]["status"] == "ACCEPTED"
    )
    for proposal in proposals:
        final = await api.get_proposal(owner, event, proposal)
        assert final["status"] == "ACCEPTED", final
        assert final["decided_by"] == {"kind": "auto"}
        assert final["vote_count"] == counted[proposal] >= 5
        assert acceptances[proposal] == 1, acceptances
    seqs = [e["seq"] for e in log]
    assert seqs == list(range(1, len(seqs) + 1))
    _assert_never_pending_at_threshold(log)


def _assert_never_pending_at_threshold(log: list[dict[str, Any]]) -> None:
    """Replay the log: after each change (a vote, a threshold change, with the acceptances
    logged in its transaction) no PENDING proposal has as many votes as the threshold."""
    threshold: int | None = None
    counts: dict[str, int] = {}
    status: dict[str, str] = {}
    for i, entry in enumerate(log):
        data = entry["data"]
        if entry["type"] == "event.updated":
            threshold = data["vote_threshold"]
        elif entry["type"] in ("proposal.created", "proposal.updated"):
            counts[data["id"]], status[data["id"]] = data["vote_count"], data["status"]
        elif entry["type"] in ("vote.cast", "vote.withdrawn"):
            counts[data["proposal_id"]] = data["vote_count"]
        if i + 1 < len(log) and log[i + 1]["type"] == "proposal.updated":
            continue  # the same transaction may still accept
        due = [p for p, n in counts.items() if status[p] == "PENDING" and n >= (threshold or 1e9)]
        assert not due, f"after seq {entry['seq']}: {due} PENDING at threshold {threshold}"
