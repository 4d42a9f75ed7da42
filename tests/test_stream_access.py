"""A stream lives only as long as its holder's access: a login session that ends (log
out, password change, sign out everywhere, account deletion) ends the streams opened
in it, and a stream opening while its holder is being removed either is refused or ends
at once, never staying open (docs/realtime.md)."""

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.api import PASSWORD, Api, User, problem
from tests.services import Server
from tests.sse import events

ENDS_WITHIN = 1.0  # seconds from the ending request's reply to the end of the stream


async def second_session(api: Api, user: User) -> User:
    """The same account logged in again (another device): a session of its own."""
    r = await api.client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return User(user.id, user.email, r.json()["access_token"], user.name)


async def end_session(api: Api, how: str, device: User, other: User) -> None:
    """End ``device``'s session the way ``how`` says, acting as ``other`` where the way
    ends every session but the caller's (a password change)."""
    if how == "logout":
        r = await api.client.post("/api/v1/auth/logout", headers=device.auth)
    elif how == "password":
        body = {"current_password": PASSWORD, "new_password": "a brand new password"}
        r = await api.client.post("/api/v1/me/password", json=body, headers=other.auth)
    elif how == "everywhere":
        r = await api.client.post("/api/v1/me/sessions/revoke", headers=other.auth)
    else:
        body = {"password": PASSWORD}
        r = await api.client.request("DELETE", "/api/v1/me", json=body, headers=other.auth)
    assert r.status_code == 204, r.text


async def rest_of(stream: Any) -> list[str]:
    return [message.event async for message in stream]


@pytest.mark.parametrize("how", ["logout", "password", "everywhere", "deletion"])
async def test_an_ended_sessions_sse_stream_ends_at_once(api: Api, how: str) -> None:
    """On an event the person organizes: their membership stays, even when the account
    goes, so only the session's end can end the stream."""
    person = await api.user("p")
    device = await second_session(api, person)
    event = await api.event(person)
    url = f"/api/v1/events/{event}/stream"

    async with (
        api.client.stream("GET", url, headers=device.auth) as ending,
        api.client.stream("GET", url, headers=person.auth) as own,
    ):
        ending_events, own_events = events(ending), events(own)
        assert (await asyncio.wait_for(anext(ending_events), 10)).event == "snapshot"
        assert (await asyncio.wait_for(anext(own_events), 10)).event == "snapshot"
        rest = asyncio.ensure_future(rest_of(ending_events))

        await end_session(api, how, device, person)
        ended_at = time.monotonic()

        assert await asyncio.wait_for(rest, 10) == []  # a clean end, nothing after
        assert time.monotonic() - ended_at < ENDS_WITHIN
        if how in ("logout", "password"):  # the caller's own session goes on, and its stream
            await api.proposal(person, event)
            assert (await asyncio.wait_for(anext(own_events), 10)).event == "proposal.created"

    code = "user_not_found" if how == "deletion" else "session_revoked"
    problem(await api.client.get(url, headers=device.auth), 401, code)


async def test_an_ended_sessions_websocket_closes_with_4401(api: Api, server: Server) -> None:
    person = await api.user("p")
    event = await api.event(person)
    r = await api.client.post(f"/api/v1/events/{event}/stream-tickets", headers=person.auth)
    ticket = r.json()["ticket"]
    address = server.url.replace("http", "ws", 1) + f"/api/v1/events/{event}/ws?ticket={ticket}"

    async with ws_connect(address) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
        await end_session(api, "everywhere", person, person)
        ended_at = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert frame["type"] == "heartbeat", frame
    assert time.monotonic() - ended_at < ENDS_WITHIN
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "session_ended")


async def _open_and_read(client: httpx.AsyncClient, url: str, member: User) -> list[str] | int:
    """The stream's messages until it ends, or the refusal's status."""
    async with client.stream("GET", url, headers=member.auth) as response:
        if response.status_code != 200:
            return response.status_code
        return await rest_of(events(response))


async def test_a_stream_opening_during_a_removal_never_stays_open(api: Api) -> None:
    """The stream and the removal start together, many times, so that the removal
    commits on either side of the stream's access check, and in between. Whichever it
    is, the stream is refused or ends within a second of the removal."""
    owner, member = await api.user("owner"), await api.user("m")
    for attempt in range(30):
        event = await api.event(owner)
        membership = await api.join(owner, event, member)
        url = f"/api/v1/events/{event}/stream"
        stream = asyncio.ensure_future(_open_and_read(api.client, url, member))
        await asyncio.sleep(0.0005 * (attempt % 10))
        r = await api.client.delete(
            f"/api/v1/events/{event}/memberships/{membership}", headers=owner.auth
        )
        assert r.status_code == 204, r.text
        try:
            outcome = await asyncio.wait_for(stream, ENDS_WITHIN + 1)
        except TimeoutError:
            raise AssertionError(f"attempt {attempt}: the stream stayed open") from None
        assert outcome == 403 or isinstance(outcome, list), outcome
        if isinstance(outcome, list):  # opened first: nothing but the start and the removal
            assert set(outcome) <= {"snapshot", "membership.removed"}, outcome
