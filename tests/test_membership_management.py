"""Managing memberships over HTTP: removing a member, leaving, one's own membership, the
events list by membership, and the streams a removal ends (SSE and WebSocket)."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.api import Api, User, problem
from tests.services import Server
from tests.sse import Event, events

EVICTION_WITHIN = 1.0  # seconds from the removal's 204 to the end of the stream


def url(event: str, rest: str = "") -> str:
    return f"/api/v1/events/{event}/memberships{rest}"


async def remove(api: Api, caller: User, event: str, membership: str) -> Any:
    return await api.client.delete(url(event, f"/{membership}"), headers=caller.auth)


async def leave(api: Api, caller: User, event: str) -> Any:
    return await api.client.delete(url(event, "/me"), headers=caller.auth)


async def mine(api: Api, caller: User, event: str) -> Any:
    return await api.client.get(url(event, "/me"), headers=caller.auth)


async def organizer_membership(api: Api, owner: User, event: str) -> str:
    r = await api.client.get(url(event), headers=owner.auth)
    [row] = [m for m in r.json()["items"] if m["role"] == "ORGANIZER"]
    return str(row["id"])


async def log_entries(api: Api, reader: User, event: str, type_: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/v1/events/{event}/log", headers=reader.auth)
    assert r.status_code == 200, r.text
    return [e["data"] for e in r.json()["items"] if e["type"] == type_]


# -- removing ---------------------------------------------------------------------------


@pytest.mark.parametrize("remover_role", ["ORGANIZER", "ADMIN"])
async def test_an_organizer_or_admin_removes_a_member(api: Api, remover_role: str) -> None:
    owner, member = await api.user("owner"), await api.user("Bob")
    event = await api.event(owner)
    remover = owner
    if remover_role == "ADMIN":
        remover = await api.user("admin")
        await api.join(owner, event, remover, role="ADMIN")
    membership = await api.join(owner, event, member)

    assert (await remove(api, remover, event, membership)).status_code == 204

    problem(await api.client.get(f"/api/v1/events/{event}", headers=member.auth), 403)
    problem(await mine(api, member, event), 404, "membership_not_found")
    [logged] = await log_entries(api, owner, event, "membership.removed")
    assert logged == {
        "id": membership,
        "event_id": event,
        "user_id": member.id,
        "user": member.person,
        "reason": "removed",
    }
    again = await api.client.post(url(event), headers=member.auth)  # they may ask again
    assert again.status_code == 201, again.text


async def test_an_admin_may_remove_another_admin(api: Api) -> None:
    owner, first, second = await api.user("owner"), await api.user("a1"), await api.user("a2")
    event = await api.event(owner)
    await api.join(owner, event, first, role="ADMIN")
    other = await api.join(owner, event, second, role="ADMIN")

    assert (await remove(api, first, event, other)).status_code == 204
    problem(await api.client.get(f"/api/v1/events/{event}", headers=second.auth), 403)


async def test_nobody_removes_the_organizer(api: Api) -> None:
    owner, admin = await api.user("owner"), await api.user("admin")
    event = await api.event(owner)
    await api.join(owner, event, admin, role="ADMIN")
    organizer = await organizer_membership(api, owner, event)

    for caller in (admin, owner):
        problem(await remove(api, caller, event, organizer), 403, "organizer_membership_fixed")
    assert (await api.client.get(f"/api/v1/events/{event}", headers=owner.auth)).status_code == 200


async def test_a_plain_member_cannot_remove_anyone(api: Api) -> None:
    owner, member, other = await api.user("owner"), await api.user("m"), await api.user("o")
    event = await api.event(owner)
    await api.join(owner, event, member)
    target = await api.join(owner, event, other)

    problem(await remove(api, member, event, target), 403, "admin_required")
    assert (await api.client.get(f"/api/v1/events/{event}", headers=other.auth)).status_code == 200


async def test_removing_an_unknown_or_removed_membership_is_404(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event, elsewhere = await api.event(owner), await api.event(owner)
    membership = await api.join(owner, event, member)

    problem(await remove(api, owner, elsewhere, membership), 404, "membership_not_found")
    assert (await remove(api, owner, event, membership)).status_code == 204
    problem(await remove(api, owner, event, membership), 404, "membership_not_found")


async def test_a_pending_request_can_be_removed_and_asked_again(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    request = (await api.client.post(url(event), headers=joiner.auth)).json()

    assert (await remove(api, owner, event, request["id"])).status_code == 204
    assert (await api.client.post(url(event), headers=joiner.auth)).status_code == 201


async def test_a_member_is_removed_from_a_closed_event_too(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event = await api.event(owner)
    membership = await api.join(owner, event, member)
    closed = await api.client.patch(
        f"/api/v1/events/{event}", json={"status": "CLOSED"}, headers=owner.auth
    )
    assert closed.status_code == 200, closed.text

    assert (await remove(api, owner, event, membership)).status_code == 204
    problem(await api.client.get(f"/api/v1/events/{event}", headers=member.auth), 403)


# -- leaving ----------------------------------------------------------------------------


async def test_a_member_leaves(api: Api) -> None:
    owner, member = await api.user("owner"), await api.user("Carol")
    event = await api.event(owner)
    membership = await api.join(owner, event, member)

    assert (await leave(api, member, event)).status_code == 204

    problem(await api.client.get(f"/api/v1/events/{event}", headers=member.auth), 403)
    [logged] = await log_entries(api, owner, event, "membership.removed")
    assert (logged["id"], logged["reason"], logged["user"]) == (membership, "left", member.person)
    problem(await leave(api, member, event), 404, "membership_not_found")


async def test_leaving_withdraws_a_pending_request(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("j")
    event = await api.event(owner)
    await api.client.post(url(event), headers=joiner.auth)

    assert (await leave(api, joiner, event)).status_code == 204
    problem(await mine(api, joiner, event), 404, "membership_not_found")


async def test_the_organizer_cannot_leave(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)

    problem(await leave(api, owner, event), 409, "organizer_cannot_leave")
    assert (await mine(api, owner, event)).json()["role"] == "ORGANIZER"


async def test_leaving_an_unknown_event_is_404(api: Api) -> None:
    user = await api.user("u")
    unknown = "0193a6f2-8c1e-7d3a-9b41-5e2f0c7d8a10"
    problem(await leave(api, user, unknown), 404, "event_not_found")
    problem(await mine(api, user, unknown), 404, "event_not_found")


# -- one's own membership, and the events list -------------------------------------------


async def test_my_membership_in_every_status(api: Api) -> None:
    owner = await api.user("owner")
    pending, approved, rejected = [await api.user(n) for n in ("p", "a", "r")]
    event = await api.event(owner)
    await api.client.post(url(event), headers=pending.auth)
    await api.join(owner, event, approved)
    request = (await api.client.post(url(event), headers=rejected.auth)).json()
    await api.client.patch(
        url(event, f"/{request['id']}"), json={"status": "REJECTED"}, headers=owner.auth
    )

    for user, status in ((pending, "PENDING"), (approved, "APPROVED"), (rejected, "REJECTED")):
        r = await mine(api, user, event)
        assert r.status_code == 200, r.text
        assert (r.json()["user_id"], r.json()["status"]) == (user.id, status)
    problem(await mine(api, await api.user("stranger"), event), 404, "membership_not_found")


async def test_the_events_list_by_membership(api: Api) -> None:
    owner, me = await api.user("owner"), await api.user("me")
    joined, asked, refused = [await api.event(owner, title=t) for t in ("J", "A", "R")]
    await api.join(owner, joined, me, role="ADMIN")
    await api.client.post(url(asked), headers=me.auth)
    request = (await api.client.post(url(refused), headers=me.auth)).json()
    await api.client.patch(
        url(refused, f"/{request['id']}"), json={"status": "REJECTED"}, headers=owner.auth
    )

    async def listed(**params: str) -> dict[str, dict[str, str]]:
        r = await api.client.get("/api/v1/events", params=params, headers=me.auth)
        assert r.status_code == 200, r.text
        return {e["id"]: e["my_membership"] for e in r.json()["items"]}

    approved = {"status": "APPROVED", "role": "ADMIN"}
    assert await listed() == await listed(membership="approved") == {joined: approved}
    assert await listed(membership="pending") == {asked: {"status": "PENDING", "role": "MEMBER"}}
    assert await listed(membership="all") == {
        joined: approved,
        asked: {"status": "PENDING", "role": "MEMBER"},
        refused: {"status": "REJECTED", "role": "MEMBER"},
    }
    problem(
        await api.client.get("/api/v1/events?membership=some", headers=me.auth),
        422,
        "validation_error",
    )


# -- the streams a removal ends ---------------------------------------------------------


async def _until_end(stream: AsyncIterator[Event]) -> list[Event]:
    return [message async for message in stream]


@pytest.mark.parametrize("how", ["removed", "left"])
async def test_a_removed_members_sse_stream_ends_at_once(api: Api, how: str) -> None:
    owner, member, other = await api.user("owner"), await api.user("m"), await api.user("o")
    event = await api.event(owner)
    membership = await api.join(owner, event, member)
    await api.join(owner, event, other)
    stream_url = f"/api/v1/events/{event}/stream"

    async with (
        api.client.stream("GET", stream_url, headers=member.auth) as evicted,
        api.client.stream("GET", stream_url, headers=other.auth) as staying,
    ):
        evicted_events, staying_events = events(evicted), events(staying)
        assert (await asyncio.wait_for(anext(evicted_events), 10)).event == "snapshot"
        assert (await asyncio.wait_for(anext(staying_events), 10)).event == "snapshot"
        ending = asyncio.ensure_future(_until_end(evicted_events))

        if how == "removed":
            r = await remove(api, owner, event, membership)
        else:
            r = await leave(api, member, event)
        assert r.status_code == 204
        removed_at = time.monotonic()

        rest = await asyncio.wait_for(ending, 10)
        assert time.monotonic() - removed_at < EVICTION_WITHIN
        assert [m.event for m in rest] == ["membership.removed"]  # told why, then the end
        assert rest[0].data["data"]["reason"] == how
        # The others' streams go on.
        assert (await asyncio.wait_for(anext(staying_events), 10)).event == "membership.removed"
        await api.proposal(other, event)
        assert (await asyncio.wait_for(anext(staying_events), 10)).event == "proposal.created"

    problem(await api.client.get(stream_url, headers=member.auth), 403, "not_a_member")


async def test_a_removed_members_websocket_closes_with_4403(api: Api, server: Server) -> None:
    owner, member = await api.user("owner"), await api.user("m")
    event = await api.event(owner)
    membership = await api.join(owner, event, member)
    ticket = (
        await api.client.post(f"/api/v1/events/{event}/stream-tickets", headers=member.auth)
    ).json()["ticket"]
    address = server.url.replace("http", "ws", 1) + f"/api/v1/events/{event}/ws?ticket={ticket}"

    async with ws_connect(address) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
        assert (await remove(api, owner, event, membership)).status_code == 204
        frames = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    assert [f["type"] for f in frames if f["type"] != "heartbeat"] == ["membership.removed"]
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "access_revoked")
