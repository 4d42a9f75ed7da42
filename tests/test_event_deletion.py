"""Deleting an event: its organizer alone may; its content goes in one transaction, its
row stays as a tombstone with one log entry, ``event.deleted``, which every open stream
receives before it ends; from then on the event is 404."""

import asyncio
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedOK

from quorum.decisions.models import Comment, Membership, Proposal, Vote
from quorum.realtime.log import LogEntry
from tests.api import Api, problem
from tests.services import Backend, Server
from tests.sse import events

TIMEOUT = 15


async def _counts(backend: Backend, event: str, proposals: list[str]) -> dict[str, int]:
    """What the database still holds of the event, counted in it directly."""
    event_id, ids = uuid.UUID(event), [uuid.UUID(p) for p in proposals]
    queries: dict[str, Any] = {
        "proposals": select(func.count()).where(Proposal.event_id == event_id),
        "votes": select(func.count()).where(Vote.proposal_id.in_(ids)),
        "comments": select(func.count()).where(Comment.proposal_id.in_(ids)),
        "memberships": select(func.count()).where(Membership.event_id == event_id),
        "log": select(func.count()).where(LogEntry.topic_id == event_id),
    }
    engine = create_async_engine(backend.url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return {k: int((await connection.execute(q)).scalar_one()) for k, q in queries.items()}
    finally:
        await engine.dispose()


async def test_deleting_an_event_ends_its_streams_and_leaves_nothing_but_a_tombstone(
    api: Api, server: Server, backend: Backend
) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member])
    proposal = await api.proposal(member, event)
    assert (await api.client.post(api.vote_url(event, proposal), headers=member.auth)).is_success
    await api.comment(member, event, proposal, "Hm")
    url = f"/api/v1/events/{event}"
    ticket = (await api.client.post(f"{url}/stream-tickets", headers=member.auth)).json()
    ws_url = server.url.replace("http", "ws", 1) + f"{url}/ws?ticket={ticket['ticket']}"

    async with (
        api.client.stream("GET", f"{url}/stream", headers=member.auth) as sse,
        ws_connect(ws_url) as ws,
    ):
        received = events(sse)
        assert (await asyncio.wait_for(anext(received), TIMEOUT)).event == "snapshot"
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "snapshot"
        problem(await api.client.delete(url, headers=member.auth), 403, "organizer_required")

        assert (await api.client.delete(url, headers=owner.auth)).status_code == 204

        rest = [e async for e in _until_end(received)]
        assert [e.event for e in rest] == ["event.deleted"]
        assert rest[0].data["data"]["id"] == event
        frames = [json.loads(f) async for f in _ws_until_close(ws)]
        assert [f["type"] for f in frames if f["type"] != "heartbeat"] == ["event.deleted"]
        assert (ws.close_code, ws.close_reason) == (1000, "topic_ended")

    for user in (owner, member):
        problem(await api.client.get(url, headers=user.auth), 404, "event_not_found")
    problem(await api.client.get(f"{url}/log", headers=owner.auth), 404, "event_not_found")
    problem(await api.client.delete(url, headers=owner.auth), 404, "event_not_found")
    again = await api.client.get(f"{url}/stream", headers=owner.auth)
    problem(again, 404, "event_not_found")
    listed = (await api.client.get("/api/v1/events", headers=owner.auth)).json()["items"]
    assert event not in [e["id"] for e in listed]
    assert await _counts(backend, event, [proposal]) == {
        "proposals": 0,
        "votes": 0,
        "comments": 0,
        "memberships": 0,
        "log": 1,
    }


async def _until_end(received: Any) -> Any:
    """Every message left on the SSE stream, until the server ends it."""
    while True:
        try:
            yield await asyncio.wait_for(anext(received), TIMEOUT)
        except StopAsyncIteration:
            return


async def _ws_until_close(ws: Any) -> Any:
    while True:
        try:
            yield await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosedOK:
            return


async def _collect(messages: Any) -> list[Any]:
    return [message async for message in messages]


async def test_deleting_an_event_under_concurrent_votes(
    api: Api, server: Server, backend: Backend
) -> None:
    """Votes on every proposal race the deletion: none fails with a 500, each counts
    before it or is refused after it, the stream's counts match the votes one by one
    (``vote_count`` = vote rows at every commit) until ``event.deleted`` ends it, and
    nothing of the event is left behind."""
    owner = await api.user("owner")
    voters = [await api.user(f"v{i}") for i in range(6)]
    event = await api.event(owner, members=voters)
    proposals = [await api.proposal(owner, event) for _ in range(3)]
    url = f"/api/v1/events/{event}"

    async def delete_soon() -> httpx.Response:
        await asyncio.sleep(0.02)
        return await api.client.delete(url, headers=owner.auth)

    async with api.client.stream("GET", f"{url}/stream", headers=owner.auth) as sse:
        received = events(sse)
        assert (await asyncio.wait_for(anext(received), TIMEOUT)).event == "snapshot"
        ending = asyncio.ensure_future(_collect(_until_end(received)))
        votes = [
            api.client.post(api.vote_url(event, p), headers=v.auth)
            for p in proposals
            for v in voters
        ]
        deleted, *responses = await asyncio.gather(delete_soon(), *votes)
        streamed = await asyncio.wait_for(ending, TIMEOUT)

    assert deleted.status_code == 204, deleted.text
    refused = {"event_not_found", "event_closed", "not_a_member", "proposal_not_found"}
    for r in responses:
        assert r.status_code == 201 or problem(r, r.status_code)["code"] in refused, r.text
    assert streamed[-1].event == "event.deleted"
    counted = sum(r.status_code == 201 for r in responses)
    cast = [m.data["data"] for m in streamed if m.event == "vote.cast"]
    assert len(cast) == counted
    for proposal in proposals:
        counts = [c["vote_count"] for c in cast if c["proposal_id"] == proposal]
        assert counts == list(range(1, len(counts) + 1)), counts
    assert await _counts(backend, event, proposals) == {
        "proposals": 0,
        "votes": 0,
        "comments": 0,
        "memberships": 0,
        "log": 1,
    }
    problem(await api.client.get(url, headers=owner.auth), 404, "event_not_found")
