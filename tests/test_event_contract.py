"""The event contract: every message a real SSE and WebSocket stream delivers validates
against the published ``/asyncapi.json``, every type the contract lists is one a stream
can deliver, and the examples of docs/events.md are valid messages."""

import asyncio
import json
import re
from typing import Any

import httpx
import jsonschema_rs
from websockets.asyncio.client import connect as ws_connect

from quorum.decisions.events import PAYLOADS
from tests.api import PASSWORD, Api
from tests.jobs import request_report, wait_job
from tests.services import ROOT, Server
from tests.sse import events

TIMEOUT = 15


def _validator(document: dict[str, Any], type_: str) -> Any:
    """A validator of one message type's payload, resolving refs inside the document."""
    schema = {**document["components"], "$ref": f"#/messages/{type_}/payload"}
    schema = json.loads(json.dumps(schema).replace('"#/components/', '"#/'))
    return jsonschema_rs.Draft202012Validator(schema)


def _assert_valid(document: dict[str, Any], message: dict[str, Any]) -> None:
    assert message["type"] in document["components"]["messages"], message
    errors = [e.message for e in _validator(document, message["type"]).iter_errors(message)]
    assert not errors, (message, errors)


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/asyncapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = r.json()
    return document


async def test_the_contract_is_asyncapi_3_and_lists_every_payload(api: Api) -> None:
    document = await _document(api.client)

    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {"sse", "websocket"}
    declared = {payload.TYPE for payload in PAYLOADS}
    assert set(document["channels"]["sse"]["messages"]) == declared
    assert set(document["channels"]["websocket"]["messages"]) == declared | {"heartbeat"}
    for type_ in declared:
        message = document["components"]["messages"][type_]
        assert message["summary"], type_
    _assert_valid(document, {"type": "heartbeat"})
    bad = {"seq": 1, "type": "vote.cast", "t": 1.0, "data": {"vote_count": "many"}}
    assert list(_validator(document, "vote.cast").iter_errors(bad))


async def test_every_message_a_stream_delivers_validates_against_the_contract(
    api: Api, server: Server
) -> None:
    document = await _document(api.client)
    owner, member = await api.user("owner"), await api.user("member")
    event = await api.event(owner, threshold=2)
    auth = owner.auth
    url = f"/api/v1/events/{event}"
    ws_address = server.url.replace("http", "ws", 1) + f"{url}/ws"
    ticket = (await api.client.post(f"{url}/stream-tickets", headers=auth)).json()["ticket"]
    sse_messages: list[dict[str, Any]] = []
    ws_messages: list[dict[str, Any]] = []

    async with (
        api.client.stream("GET", f"{url}/stream", headers=auth) as sse,
        ws_connect(f"{ws_address}?ticket={ticket}") as ws,
    ):
        sse_events = events(sse)
        first = await asyncio.wait_for(anext(sse_events), TIMEOUT)
        assert first.event == "snapshot"
        ws_first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ws_first["type"] == "snapshot"
        sse_messages.append(_envelope(first))
        ws_messages.append(ws_first)

        await _every_kind_of_change(api, owner, member, event)

        while sse_messages[-1]["type"] != "event.deleted":
            sse_messages.append(_envelope(await asyncio.wait_for(anext(sse_events), TIMEOUT)))
        while ws_messages[-1]["type"] != "event.deleted":
            ws_messages.append(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))

    for message in sse_messages + ws_messages:
        _assert_valid(document, message)
    delivered = {m["type"] for m in sse_messages}
    # job.failed needs a job that fails: tests/test_jobs.py checks it against the contract.
    assert delivered == {payload.TYPE for payload in PAYLOADS} - {"job.failed"}
    # The same entries on both (each snapshot has its own read time ``t``).
    assert [m for m in ws_messages if m["type"] != "heartbeat"][1:] == sse_messages[1:]


async def _every_kind_of_change(api: Api, owner: Any, member: Any, event: str) -> None:
    url = f"/api/v1/events/{event}"
    await api.join(owner, event, member)  # membership.requested, membership.updated
    proposal = await api.proposal(member, event)  # proposal.created
    vote = api.vote_url(event, proposal)
    assert (await api.client.post(vote, headers=member.auth)).status_code == 201
    withdrawn = await api.client.delete(f"{vote}/me", headers=member.auth)
    assert withdrawn.status_code == 204
    comment = await api.comment(member, event, proposal, "Agreed")  # comment.created
    comment_url = f"{url}/proposals/{proposal}/comments/{comment}"
    edited = await api.client.patch(comment_url, json={"body": "Agreed!"}, headers=member.auth)
    assert edited.status_code == 200  # comment.updated
    assert (await api.client.delete(comment_url, headers=owner.auth)).status_code == 204
    attached = await api.client.post(
        f"{url}/proposals/{proposal}/attachments",
        params={"filename": "notes.txt"},
        content=b"Bring a pen.\n",
        headers=member.auth,
    )
    assert attached.status_code == 201  # attachment.added
    removed = await api.client.delete(attached.json()["url"], headers=member.auth)
    assert removed.status_code == 204  # attachment.removed
    for voter in (member, owner):  # the second reaches 2: proposal.updated
        assert (await api.client.post(vote, headers=voter.auth)).status_code == 201
    link = await api.client.post(
        f"{url}/invitations", json={"auto_approve": True}, headers=owner.auth
    )
    leaver = await api.user("leaver")
    joined = await api.client.post(
        f"/api/v1/invitations/{link.json()['token']}/accept", headers=leaver.auth
    )
    assert joined.status_code == 201  # membership.joined
    left = await api.client.delete(f"{url}/memberships/me", headers=leaver.auth)
    assert left.status_code == 204  # membership.removed
    leaving = await api.user("leaving")
    await api.join(owner, event, leaving)
    deletion = {"password": PASSWORD}
    r = await api.client.request("DELETE", "/api/v1/me", json=deletion, headers=leaving.auth)
    assert r.status_code == 204, r.text  # membership.removed
    renamed = await api.client.patch(url, json={"title": "Renamed"}, headers=owner.auth)
    assert renamed.status_code == 200  # event.updated
    job = await request_report(api.client, owner, event)  # job.progress, job.completed
    assert (await wait_job(api.client, owner, job["id"]))["state"] == "done"
    assert (await api.client.delete(url, headers=owner.auth)).status_code == 204  # the last


def _envelope(event: Any) -> dict[str, Any]:
    """The SSE frame's data is the message; its id and event name repeat seq and type (a
    transient message has neither seq nor id)."""
    data: dict[str, Any] = event.data
    assert (event.id, event.event) == (data.get("seq"), data["type"])
    return data


async def test_the_examples_in_docs_events_md_are_valid_messages(api: Api) -> None:
    document = await _document(api.client)
    text = (ROOT / "docs" / "events.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]

    for example in examples:
        _assert_valid(document, example)
    assert {e["type"] for e in examples} == {p.TYPE for p in PAYLOADS} | {"heartbeat"}
