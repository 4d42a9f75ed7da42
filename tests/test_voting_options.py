"""Voting options, chosen at creation: anonymous votes name no voter anywhere (API,
stream, log), hidden tallies hide the counts from members (not from organizers and
admins) until the event closes while the threshold still decides; neither changes once
the event exists (docs/decisions.md, "Voting options")."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect

from tests.api import Api, User, problem
from tests.services import Server

EVENTS = "/api/v1/events"
TIMEOUT = 15


async def raw_frames(response: httpx.Response) -> AsyncIterator[str]:
    """Each SSE event block as the server wrote it (heartbeats and ``retry:`` left out)."""
    block: list[str] = []
    async for line in response.aiter_lines():
        if line:
            block.append(line)
        elif block:
            if any(part.startswith("event:") for part in block):
                yield "\n".join(block)
            block = []


def message(frame: str) -> dict[str, Any]:
    data = "".join(line[6:] for line in frame.splitlines() if line.startswith("data: "))
    parsed: dict[str, Any] = json.loads(data)
    return parsed


async def read_until(frames: AsyncIterator[str], type_: str, into: list[str]) -> dict[str, Any]:
    """Read frames into ``into`` up to the first of ``type_``; that message."""
    while True:
        frame = await asyncio.wait_for(anext(frames), TIMEOUT)
        into.append(frame)
        if message(frame)["type"] == type_:
            return message(frame)


async def vote(api: Api, voter: User, event: str, proposal: str) -> httpx.Response:
    r = await api.client.post(api.vote_url(event, proposal), headers=voter.auth)
    assert r.status_code == 201, r.text
    return r


async def test_options_are_shown_and_fixed_once_the_event_exists(api: Api) -> None:
    owner = await api.user("owner")
    r = await api.client.post(
        EVENTS,
        json={"title": "Secret", "anonymous_votes": True, "hidden_tallies": True},
        headers=owner.auth,
    )
    assert r.status_code == 201, r.text
    event = r.json()
    assert (event["anonymous_votes"], event["hidden_tallies"]) == (True, True)
    plain = (await api.client.post(EVENTS, json={"title": "Plain"}, headers=owner.auth)).json()
    assert (plain["anonymous_votes"], plain["hidden_tallies"]) == (False, False)

    for change in ({"anonymous_votes": False}, {"hidden_tallies": True, "title": "t"}):
        for target in (event, plain):
            url = f"{EVENTS}/{target['id']}"
            problem(
                await api.client.patch(url, json=change, headers=owner.auth), 422, "option_fixed"
            )
    got = (await api.client.get(f"{EVENTS}/{event['id']}", headers=owner.auth)).json()
    assert (got["title"], got["anonymous_votes"], got["hidden_tallies"]) == ("Secret", True, True)
    bad = {"title": "t", "anonymous_votes": "yes"}
    problem(await api.client.post(EVENTS, json=bad, headers=owner.auth), 422, "validation_error")


async def test_an_anonymous_event_names_no_voter_anywhere(api: Api, server: Server) -> None:
    owner = await api.user("Organizer")
    quill, zephyr = await api.user("Quill-Voter"), await api.user("Zephyr-Voter")
    event = await api.event(owner, members=[quill, zephyr], threshold=2, anonymous_votes=True)
    proposal = await api.proposal(owner, event)
    other = await api.proposal(owner, event, title="Other")
    url = f"{EVENTS}/{event}"
    secrets = [quill.id, zephyr.id, quill.name, zephyr.name]
    bodies: list[str] = []  # every raw body that may name a voter
    sse_frames: list[str] = []
    ticket = (await api.client.post(f"{url}/stream-tickets", headers=quill.auth)).json()["ticket"]
    ws_url = server.url.replace("http", "ws", 1) + f"{url}/ws?ticket={ticket}"

    async with (
        api.client.stream("GET", f"{url}/stream", headers=owner.auth) as sse,
        ws_connect(ws_url) as ws,
    ):
        frames = raw_frames(sse)
        await read_until(frames, "snapshot", [])  # checked below, without its memberships
        ws_frames = [await asyncio.wait_for(ws.recv(), TIMEOUT)]
        bodies.append((await vote(api, quill, event, other)).text)
        withdrawn = await api.client.delete(f"{api.vote_url(event, other)}/me", headers=quill.auth)
        assert withdrawn.status_code == 204
        bodies.append((await vote(api, quill, event, proposal)).text)
        accepted = await vote(api, zephyr, event, proposal)  # reaches 2
        assert accepted.json()["proposal"]["status"] == "ACCEPTED"
        bodies.append(accepted.text)
        await api.client.patch(url, json={"title": "End"}, headers=owner.auth)
        await read_until(frames, "event.updated", sse_frames)
        while json.loads(ws_frames[-1]).get("type") != "event.updated":
            ws_frames.append(str(await asyncio.wait_for(ws.recv(), TIMEOUT)))

    votes = [message(f)["data"] for f in sse_frames if message(f)["type"].startswith("vote.")]
    assert [(v["user"], v["vote_count"]) for v in votes] == [
        (None, 1),
        (None, 0),
        (None, 1),
        (None, 2),
    ]  # counts are public, voters are not
    problem(await api.client.get(api.vote_url(event, proposal), headers=owner.auth), 403)
    for reader in (owner, quill):
        for path in ("/proposals", f"/proposals/{proposal}", f"/proposals/{other}"):
            bodies.append((await api.client.get(url + path, headers=reader.auth)).text)
        log = (await api.client.get(f"{url}/log", headers=reader.auth)).json()["items"]
        bodies += [json.dumps(e) for e in log if not e["type"].startswith("membership.")]
    bodies += sse_frames + ws_frames[1:]
    for snapshot in (message(f) for f in await _snapshot_frames(api, owner, url)):
        snapshot["data"].pop("memberships")  # members are named; what they voted is not
        bodies.append(json.dumps(snapshot))
    for body in bodies:
        for secret in secrets:
            assert secret not in body, (secret, body)
    assert len(bodies) > 15


async def _snapshot_frames(api: Api, user: User, url: str) -> list[str]:
    async with api.client.stream("GET", f"{url}/stream", headers=user.auth) as sse:
        return [await asyncio.wait_for(anext(raw_frames(sse)), TIMEOUT)]


async def test_the_voters_of_an_anonymous_event_are_forbidden_to_list(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, members=[member], anonymous_votes=True)
    proposal = await api.proposal(owner, event)
    await vote(api, member, event, proposal)

    for reader in (owner, member):
        r = await api.client.get(api.vote_url(event, proposal), headers=reader.auth)
        problem(r, 403, "votes_anonymous")


async def test_hidden_tallies_reach_admins_not_members_until_the_event_closes(
    api: Api,
) -> None:
    owner, ada, bob = await api.user("owner"), await api.user("Ada"), await api.user("Bob")
    event = await api.event(owner, members=[ada, bob], threshold=2, hidden_tallies=True)
    proposal = await api.proposal(owner, event)
    url = f"{EVENTS}/{event}"
    admin_frames: list[str] = []
    member_frames: list[str] = []

    async with (
        api.client.stream("GET", f"{url}/stream", headers=owner.auth) as admin_sse,
        api.client.stream("GET", f"{url}/stream", headers=ada.auth) as member_sse,
    ):
        admin, member = raw_frames(admin_sse), raw_frames(member_sse)
        admin_snapshot = await read_until(admin, "snapshot", [])
        member_snapshot = await read_until(member, "snapshot", [])
        assert admin_snapshot["data"]["proposals"][0]["vote_count"] == 0
        assert member_snapshot["data"]["proposals"][0]["vote_count"] is None

        first = await vote(api, ada, event, proposal)
        assert first.json()["proposal"]["vote_count"] is None  # the voter is a member
        second = await vote(api, bob, event, proposal)  # reaches the threshold
        assert second.json()["proposal"]["status"] == "ACCEPTED"
        for frames, into in ((admin, admin_frames), (member, member_frames)):
            await read_until(frames, "proposal.updated", into)

        closed = await api.client.patch(url, json={"status": "CLOSED"}, headers=owner.auth)
        assert closed.status_code == 200, closed.text
        for frames, into in ((admin, admin_frames), (member, member_frames)):
            await read_until(frames, "event.updated", into)

    def counts(frames: list[str]) -> list[tuple[str, Any]]:
        found = [message(f) for f in frames]
        return [(m["type"], m["data"].get("vote_count")) for m in found]

    assert counts(admin_frames) == [
        ("vote.cast", 1),
        ("vote.cast", 2),
        ("proposal.updated", 2),
        ("event.updated", None),
    ]
    assert counts(member_frames) == [
        ("vote.cast", None),
        ("vote.cast", None),
        ("proposal.updated", None),
        ("event.updated", None),
    ]
    assert message(member_frames[2])["data"]["status"] == "ACCEPTED"  # the threshold works

    # Closed: every count is for everyone, on a fresh snapshot and through REST.
    async with api.client.stream("GET", f"{url}/stream", headers=ada.auth) as fresh:
        snapshot = await read_until(raw_frames(fresh), "snapshot", [])
    assert snapshot["data"]["proposals"][0]["vote_count"] == 2
    assert (await api.get_proposal(ada, event, proposal))["vote_count"] == 2


async def test_hidden_tallies_in_rest_reads_and_the_log(api: Api) -> None:
    owner, admin, ada = await api.user("owner"), await api.user("admin"), await api.user("Ada")
    event = await api.event(owner, members=[ada], threshold=3, hidden_tallies=True)
    await api.join(owner, event, admin, role="ADMIN")
    proposal = await api.proposal(ada, event)
    created = await api.client.get(f"{EVENTS}/{event}/proposals", headers=ada.auth)
    assert created.json()["items"][0]["vote_count"] is None
    await vote(api, ada, event, proposal)
    url = f"{EVENTS}/{event}"

    for reader, expected in ((owner, 1), (admin, 1), (ada, None)):
        listed = (await api.client.get(f"{url}/proposals", headers=reader.auth)).json()
        assert listed["items"][0]["vote_count"] == expected
        assert (await api.get_proposal(reader, event, proposal))["vote_count"] == expected
        log = (await api.client.get(f"{url}/log", headers=reader.auth)).json()["items"]
        counted = [e["data"] for e in log if e["type"] in ("vote.cast", "proposal.created")]
        assert [d["vote_count"] for d in counted] == [0 if expected else None, expected]
        assert all(d["tally_hidden"] for d in counted)
