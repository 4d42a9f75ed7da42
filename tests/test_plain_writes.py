"""The hot writes served plain (quorum/decisions/writes.py) answer exactly as their
FastAPI routes do.

A request with an Idempotency-Key is served by the FastAPI route, one without by the
plain handler: every request here is sent both ways, each time against the same state,
and the two answers must be the same bytes with the same headers (bar the request id,
the date and what names a new row). The malformed ones are those whose answer depends
on the order of the checks (body, caller, path, fields) or on how a body is parsed.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from quorum.accounts import tokens
from tests.api import Api, User
from tests.services import SECRET
from tests.test_browser_sessions import Browser, browser

MAX_BODY = 1_048_576  # QUORUM_MAX_BODY_BYTES's default, which the test servers keep
VARYING = {"date", "x-request-id"}
_STAMP = re.compile(rb'"\d{4}-\d\d-\d\dT[^"]*"')


@dataclass
class Scene:
    owner: User
    member: User
    outsider: User
    event: str
    proposals: list[str]
    page: Browser

    def proposal(self, suffix: str = "") -> str:
        return f"/api/v1/events/{self.event}/proposals{suffix}"

    def on(self, proposal: str, suffix: str) -> str:
        return f"/api/v1/events/{self.event}/proposals/{proposal}{suffix}"


@pytest.fixture
async def scene(api: Api) -> Scene:
    owner, member, outsider = await api.user("owner"), await api.user("ann"), await api.user("x")
    event = await api.event(owner, members=[member], threshold=100)
    proposals = [await api.proposal(owner, event, title="Same") for _ in range(2)]
    return Scene(owner, member, outsider, event, proposals, await browser(api.client, member))


async def both_ways(api: Api, method: str, url: str, **kwargs: Any) -> list[httpx.Response]:
    """The request sent plain, then through the FastAPI route (a fresh Idempotency-Key)."""
    headers = kwargs.pop("headers", {})
    keyed = {**headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    return [
        await api.client.request(method, url, headers=headers, **kwargs),
        await api.client.request(method, url, headers=keyed, **kwargs),
    ]


def assert_same(plain: httpx.Response, routed: httpx.Response, *masked: str) -> None:
    def shape(r: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
        body = r.content
        for name in masked:
            body = body.replace(name.encode(), b"<id>")
        body = _STAMP.sub(b'"<time>"', body)
        headers = [(k, v) for k, v in r.headers.multi_items() if k not in VARYING]
        if masked:  # the lengths of what was masked may differ
            headers = [(k, v) for k, v in headers if k != "content-length"]
        return r.status_code, headers, body

    assert shape(plain) == shape(routed), (plain.text, routed.text)


def token(**claims: Any) -> str:
    """An access token signed with the test servers' key (``tests.services.SECRET``)."""
    now = datetime.now(UTC)
    payload = {"sub": str(uuid.uuid4()), "aud": tokens.ACCESS_AUDIENCE, "iat": now}
    payload |= {"exp": now + timedelta(hours=1), "sid": str(uuid.uuid4()), **claims}
    return jwt.encode(payload, SECRET, algorithm=tokens.ALGORITHM)


def refusals(s: Scene) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Requests each route must refuse: (method, url, httpx arguments)."""
    p = s.proposals[0]
    auth = s.member.auth
    json_type = {**auth, "Content-Type": "application/json"}
    writes = [
        ("POST", s.on(p, "/votes"), None),
        ("DELETE", s.on(p, "/votes/me"), None),
        ("POST", s.on(p, "/comments"), {"body": "Fine"}),
        ("POST", s.proposal(), {"kind": "CONCLUSION", "title": "T"}),
    ]
    for method, url, good in writes:
        bad_ids = url.replace(s.event, "not-a-uuid").replace(p, "nor-this")
        yield method, bad_ids, {"headers": auth, "json": good}
        yield method, bad_ids, {"headers": {}, "json": good}  # the caller before the path
        yield method, url, {"headers": {}}
        yield method, url, {"headers": {"Authorization": "Bearer not.a.token"}}
        yield method, url, {"headers": {"Authorization": "Basic eDp5"}, "json": good}
        yield method, url, {"headers": {"Authorization": f"Bearer {token(exp=0)}"}}
        yield method, url, {"headers": auth, "content": b"x" * (MAX_BODY + 1)}
        yield method, url, {"headers": auth, "content": _chunks(MAX_BODY + 10)}
        yield method, url, {"headers": s.page.cookie, "json": good}  # no X-CSRF-Token
        evil = {**s.page.writes, "Origin": "http://evil.example"}
        yield method, url, {"headers": evil, "json": good}
        yield method, url, {"headers": s.outsider.auth, "json": good}
        yield method, url, {"headers": json_type, "content": b'{"body": '}
        yield method, url, {"headers": {}, "content": b"{nope"}
        yield method, url, {"headers": json_type, "content": b'"\xff\xfe"'}
        yield method, url, {"headers": json_type, "content": b"[" * 100_000}
        yield method, url, {"headers": json_type, "content": b"null"}
        yield method, url, {"headers": json_type, "content": b"[1, 2]"}
        yield method, url, {"headers": json_type, "content": b'"text"'}
        yield method, url, {"headers": auth, "content": b'{"body": "no type"}'}
        text = b'{"body": "x", "kind": "CONCLUSION", "title": "T"}'
        yield method, url, {"headers": {**auth, "Content-Type": "text/plain"}, "content": text}
        yield method, url, {"headers": auth, "json": {"value": -1, "body": " ", "kind": 3}}
        if p in url:  # no such proposal
            yield method, url.replace(p, str(uuid.uuid4())), {"headers": auth, "json": good}
    comments = s.on(p, "/comments")
    for body in ({}, {"body": ""}, {"body": "   "}, {"body": "a\x00b"}, {"body": "x" * 20_000}):
        yield "POST", comments, {"headers": auth, "json": body}
    yield "POST", comments, {"headers": auth, "json": {"body": "ok", "extra": 1}}
    yield "POST", comments, {"headers": json_type}  # no body at all
    for body in ({"kind": "NOPE", "title": "T"}, {"title": "T"}, {"kind": "CONCLUSION"}):
        yield "POST", s.proposal(), {"headers": auth, "json": body}
    yield "POST", s.proposal(), {"headers": auth, "json": {"kind": "CONCLUSION", "title": 7}}


async def _chunks(size: int) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), larger than the cap."""
    sent = 0
    while sent < size:
        yield b"x" * 65_536
        sent += 65_536


async def test_refusals_are_answered_as_the_fastapi_routes_answer_them(
    api: Api, scene: Scene
) -> None:
    for method, url, arguments in refusals(scene):
        arguments = {k: v for k, v in arguments.items() if v is not None}  # a vote's json
        if "content" in arguments and not isinstance(arguments["content"], bytes):
            plain = await api.client.request(method, url, **arguments)
            arguments["content"] = _chunks(MAX_BODY + 10)  # a generator is read once
            keyed = {**arguments["headers"], "Idempotency-Key": f"key-{uuid.uuid4()}"}
            routed = await api.client.request(method, url, **{**arguments, "headers": keyed})
        else:
            plain, routed = await both_ways(api, method, url, **arguments)
        assert plain.status_code >= 400, (method, url, arguments)
        assert_same(plain, routed)


async def test_votes_and_withdrawals_are_answered_alike(api: Api, scene: Scene) -> None:
    first, second = (scene.on(p, "/votes") for p in scene.proposals)
    auth = scene.member.auth

    voted = [
        await api.client.post(first, headers=auth),
        await api.client.post(second, headers={**auth, "Idempotency-Key": "k1"}),
    ]
    assert voted[0].status_code == 201, voted[0].text
    assert_same(*voted, *scene.proposals)
    again = await both_ways(api, "POST", first, headers=auth)  # 409 already_voted
    assert_same(*again)
    empty = [
        await api.client.request("DELETE", f"{first}/me", headers=auth, content=b"{}"),
        await api.client.delete(f"{second}/me", headers={**auth, "Idempotency-Key": "k2"}),
    ]
    assert empty[0].status_code == 204, empty[0].text
    assert_same(*empty)
    assert_same(*await both_ways(api, "DELETE", f"{first}/me", headers=auth))  # no vote


async def test_comments_and_proposals_are_answered_alike(api: Api, scene: Scene) -> None:
    p = scene.proposals[0]
    auth = scene.member.auth
    text = {"body": '  Ünïcode, "quoted" and <b>tagged</b> \u2028 '}

    comments = await both_ways(api, "POST", scene.on(p, "/comments"), headers=auth, json=text)
    assert comments[0].status_code == 201, comments[0].text
    assert_same(*comments, *(c.json()["id"] for c in comments))
    new = {"kind": "CRITERIA", "title": " Spaces around ", "body": "€"}
    made = await both_ways(api, "POST", scene.proposal(), headers=scene.page.writes, json=new)
    assert made[0].status_code == 201, made[0].text
    assert_same(*made, *(m.json()["id"] for m in made))


async def test_a_plain_write_is_counted_under_its_route_template(api: Api, scene: Scene) -> None:
    r = await api.client.post(scene.on(scene.proposals[0], "/votes"), headers=scene.member.auth)
    assert r.status_code == 201, r.text

    metrics = (await api.client.get("/metrics")).text
    template = 'route="/events/{event_id}/proposals/{proposal_id}/votes",status="201"'
    assert re.search(
        rf'quorum_http_requests_total\{{method="POST",{re.escape(template)}\}}', metrics
    )
    assert scene.proposals[0] not in metrics  # never the raw path


async def test_an_idempotent_vote_still_replays(api: Api, scene: Scene) -> None:
    url = scene.on(scene.proposals[0], "/votes")
    headers = {**scene.member.auth, "Idempotency-Key": "once"}

    first = await api.client.post(url, headers=headers)
    again = await api.client.post(url, headers=headers)

    assert first.status_code == 201, first.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.content == first.content
    plain = await api.client.post(url, headers=scene.member.auth)
    assert plain.status_code == 409 and json.loads(plain.content)["code"] == "already_voted"
