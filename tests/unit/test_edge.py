"""quorum/api/edge.py on its own: the request id, the security headers, the body cap and
the request metrics, around a plain ASGI app (the app-level tests check them through a
real server: tests/test_security_headers.py, tests/test_errors.py)."""

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from quorum.api.edge import Edge

CAP = 100


@dataclass
class Route:
    path: str


def http_scope(path: str = "/x", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": headers or []}


def json_app(
    headers: list[tuple[bytes, bytes]] | None = None,
    route: str | None = None,
    read_body: bool = False,
) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if route is not None:
            scope["route"] = Route(route)
        body = b""
        if read_body:
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        start_headers = headers or [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": start_headers})
        await send({"type": "http.response.body", "body": json.dumps(len(body)).encode()})

    return app


async def call(
    app: Any, scope: Scope, chunks: list[bytes] | None = None, **edge: Any
) -> list[Message]:
    sent: list[Message] = []
    pending = list(chunks or [b""])

    async def receive() -> Message:
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = Edge(app, max_body_bytes=CAP, access_log=False, **edge)
    await middleware(scope, receive, send)
    return sent


def headers_of(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


async def test_a_sane_request_id_is_kept_and_others_replaced() -> None:
    sane = headers_of(await call(json_app(), http_scope(headers=[(b"x-request-id", b"abc-1")])))
    assert sane[b"x-request-id"] == b"abc-1"
    for given in (b"x" * 129, b"a\tb", "é".encode(), b""):
        found = headers_of(await call(json_app(), http_scope(headers=[(b"x-request-id", given)])))
        assert re.fullmatch(rb"[0-9a-f]{32}", found[b"x-request-id"]), given
    generated = headers_of(await call(json_app(), http_scope()))[b"x-request-id"]
    assert re.fullmatch(rb"[0-9a-f]{32}", generated)


async def test_security_headers_are_added_unless_the_response_set_them() -> None:
    added = headers_of(await call(json_app(), http_scope()))
    assert added[b"x-content-type-options"] == b"nosniff"
    assert added[b"x-frame-options"] == b"DENY"
    assert added[b"referrer-policy"] == b"no-referrer"
    assert added[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'none'"
    assert added[b"cache-control"] == b"no-store"

    own = [
        (b"content-type", b"application/problem+json; charset=utf-8"),
        (b"Cache-Control", b"no-cache"),
        (b"content-security-policy", b"default-src 'self'"),
    ]
    kept = (await call(json_app(headers=own), http_scope()))[0]["headers"]
    assert [value for name, value in kept if name.lower() == b"cache-control"] == [b"no-cache"]
    assert [v for n, v in kept if n == b"content-security-policy"] == [b"default-src 'self'"]

    html = headers_of(await call(json_app(headers=[(b"content-type", b"text/html")]), http_scope()))
    assert b"cache-control" not in html
    assert html[b"x-frame-options"] == b"DENY"


async def test_a_websocket_denial_carries_the_request_id_only() -> None:
    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"x-request-id", b"r1")]}
    sent = await call(deny, scope)
    assert sent[0]["headers"] == [(b"x-request-id", b"r1")]


async def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    for length in (str(CAP + 1).encode(), b"12x"):
        scope = http_scope(headers=[(b"content-length", length)])
        sent = await call(json_app(read_body=True), scope, [b"{}"])
        assert sent[0]["status"] == 413
        assert json.loads(sent[1]["body"])["code"] == "body_too_large"
        assert headers_of(sent)[b"x-content-type-options"] == b"nosniff"
    scope = http_scope(headers=[(b"content-length", str(CAP).encode())])
    sent = await call(json_app(read_body=True), scope, [b"x" * CAP])
    assert sent[0]["status"] == 200


async def test_a_body_without_length_is_counted_as_it_arrives() -> None:
    sent = await call(json_app(read_body=True), http_scope(), [b"x" * 60, b"x" * 40])
    assert json.loads(sent[1]["body"]) == CAP
    with pytest.raises(HTTPException) as refused:
        await call(json_app(read_body=True), http_scope(), [b"x" * 60, b"x" * 41])
    assert refused.value.status_code == 413


async def test_exempt_paths_are_not_capped() -> None:
    exempt = re.compile(r"/uploads/\w+")
    scope = http_scope("/uploads/a", [(b"content-length", str(CAP * 3).encode())])
    sent = await call(json_app(read_body=True), scope, [b"x" * CAP] * 3, body_cap_exempt=exempt)
    assert json.loads(sent[1]["body"]) == CAP * 3


async def test_requests_are_counted_by_route_template() -> None:
    labels = {"method": "POST", "route": "/things/{thing_id}", "status": "200"}
    before = REGISTRY.get_sample_value("quorum_http_requests_total", labels) or 0
    for _ in range(2):
        await call(json_app(route="/things/{thing_id}"), http_scope("/things/1"))
    assert REGISTRY.get_sample_value("quorum_http_requests_total", labels) == before + 2
    unmatched = {"method": "POST", "route": "unmatched", "status": "200"}
    before = REGISTRY.get_sample_value("quorum_http_requests_total", unmatched) or 0
    await call(json_app(), http_scope("/nowhere"))
    assert REGISTRY.get_sample_value("quorum_http_requests_total", unmatched) == before + 1
