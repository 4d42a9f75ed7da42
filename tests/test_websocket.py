"""The WebSocket of an event, and the stream's resume position, over real connections to a
real server: resume on connect with ``?last_event_id=``, an in-band ``resume_from`` that
never repeats an entry, malformed positions, and frames the server does not take."""

import asyncio
import json
from typing import Any
from urllib.parse import quote

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.api import PROBLEM_JSON, Api, User, problem
from tests.services import Server

TIMEOUT = 10
# str.isdigit() accepts them, int() does not: superscript two, circled one, Arabic-Indic three.
UNICODE_DIGITS = ["²", "①", "٣"]


def ws_url(server: Server, event: str, query: str = "") -> str:
    url = server.url.replace("http", "ws", 1) + f"/api/v1/events/{event}/ws"
    return f"{url}?{query}" if query else url


def sse_path(event: str) -> str:
    return f"/api/v1/events/{event}/stream"


async def next_message(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message.get("type") != "heartbeat":
            return message


async def seeded(api: Api, comments: int) -> tuple[User, str, str, int]:
    """An event with a proposal and ``comments`` comments: its owner, ids and last seq."""
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    for i in range(comments):
        await api.comment(owner, event, proposal, f"c{i}")
    r = await api.client.get(f"/api/v1/events/{event}", headers=owner.auth)
    return owner, event, proposal, int(r.json()["last_seq"])


def assert_never_repeats(messages: list[dict[str, Any]]) -> None:
    """Within one connection an entry's seq is above everything sent before it; only a
    snapshot (which supersedes the client's state) may carry a seq already seen."""
    highest = -1
    for i, message in enumerate(messages):
        if message["type"] != "snapshot":
            assert message["seq"] > highest, f"message {i} repeats: {messages}"
        highest = max(highest, message["seq"])


async def test_websocket_resumes_on_connect_with_last_event_id(api: Api, server: Server) -> None:
    owner, event, proposal, last = await seeded(api, 3)
    url = ws_url(server, event, f"last_event_id={last - 2}")
    async with ws_connect(url, additional_headers=owner.auth) as ws:
        got = [await next_message(ws), await next_message(ws)]
        assert [(m["type"], m["seq"]) for m in got] == [
            ("comment.created", last - 1),
            ("comment.created", last),
        ]
        await api.comment(owner, event, proposal, "live")
        live = await next_message(ws)
        assert (live["type"], live["seq"]) == ("comment.created", last + 1)


async def test_websocket_in_band_resume_never_repeats_an_entry(api: Api, server: Server) -> None:
    owner, event, proposal, last = await seeded(api, 3)
    url = ws_url(server, event, f"last_event_id={last - 2}")
    async with ws_connect(url, additional_headers=owner.auth) as ws:
        assert [(await next_message(ws))["seq"] for _ in range(2)] == [last - 1, last]
        # Nothing is being written: what comes next is exact. At or ahead of what the
        # connection sent, a request changes nothing; behind it, the client gets a fresh
        # snapshot that supersedes its state, never an entry a second time.
        for position in (last + 100, last, last - 2):
            await ws.send(json.dumps({"resume_from": position}))
        snapshot = await next_message(ws)
        assert (snapshot["type"], snapshot["seq"]) == ("snapshot", last)
        assert [p["id"] for p in snapshot["data"]["proposals"]] == [proposal]
        await api.comment(owner, event, proposal, "live")
        live = await next_message(ws)
        assert (live["type"], live["seq"]) == ("comment.created", last + 1)


async def test_websocket_resume_sent_right_after_connecting_repeats_nothing(
    api: Api, server: Server
) -> None:
    """The client that did what the README used to say: connect, then send
    ``{"resume_from": N}``. It got the snapshot, then entries it already had, one twice."""
    owner, event, proposal, last = await seeded(api, 5)
    async with ws_connect(ws_url(server, event), additional_headers=owner.auth) as ws:
        await ws.send(json.dumps({"resume_from": last - 4}))
        got = [await next_message(ws)]
        await api.comment(owner, event, proposal, "live")
        while got[-1]["seq"] < last + 1:
            got.append(await next_message(ws))
    assert (got[0]["type"], got[0]["seq"]) == ("snapshot", last)
    assert_never_repeats(got)


@pytest.mark.parametrize("value", UNICODE_DIGITS)
async def test_sse_last_event_id_with_unicode_digits_is_422(
    api: Api, server: Server, value: str
) -> None:
    owner = await api.user()
    event = await api.event(owner)
    async with api.client.stream(
        "GET", sse_path(event), params={"last_event_id": value}, headers=owner.auth
    ) as r:
        assert r.status_code != 200, "streaming from a position that is not a number"
        await r.aread()
    problem(r, 422, "invalid_last_event_id")


async def test_sse_last_event_id_header_with_a_latin1_digit_is_422(
    api: Api, server: Server
) -> None:
    """Header values are latin-1: b"\\xb2" is "²". Sent as raw bytes."""
    owner = await api.user()
    event = await api.event(owner)
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET {sse_path(event)} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        f"Authorization: Bearer {owner.token}\r\n".encode()
        + b"Last-Event-ID: \xb2\r\n\r\n"
    )
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        assert status_line.split()[1] == "422", head
        headers = dict(line.lower().split(": ", 1) for line in header_lines if line)
        assert headers["content-type"].startswith(PROBLEM_JSON)
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    finally:
        writer.close()
    assert json.loads(body)["code"] == "invalid_last_event_id"


@pytest.mark.parametrize("value", UNICODE_DIGITS)
async def test_websocket_last_event_id_with_unicode_digits_is_denied_422(
    api: Api, server: Server, value: str
) -> None:
    owner = await api.user()
    event = await api.event(owner)
    url = ws_url(server, event, f"last_event_id={quote(value)}")
    with pytest.raises(InvalidStatus) as denied:
        async with ws_connect(url, additional_headers=owner.auth):
            pass
    response = denied.value.response
    assert response.status_code == 422, response
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert json.loads(response.body)["code"] == "invalid_last_event_id"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01binary", 1003),  # unsupported data
        ("not json", 1008),  # policy violation
        ('{"resume_from": -1}', 1008),
    ],
)
async def test_websocket_closes_on_a_frame_it_does_not_take(
    api: Api, server: Server, frame: str | bytes, code: int
) -> None:
    owner, event, _, _ = await seeded(api, 0)
    logged = len(server.log())
    async with ws_connect(ws_url(server, event), additional_headers=owner.auth) as ws:
        assert (await next_message(ws))["type"] == "snapshot"
        await ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            await next_message(ws)
    received = closed.value.rcvd
    assert received is not None, "the server never sent a close frame"
    assert received.code == code and received.reason, received
    log = server.log()[logged:]
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log


@pytest.mark.parametrize(
    ("path_id", "params", "headers", "loc"),
    [
        ("not-an-id", {}, {}, ["path", "event_id"]),
        (None, {"ticket": "t" * 2049}, {}, ["query", "ticket"]),
        (None, {"last_event_id": "1" * 21}, {}, ["query", "last_event_id"]),
        (None, {}, {"Last-Event-ID": "1" * 21}, ["header", "Last-Event-ID"]),
    ],
)
async def test_sse_parameters_are_validated_like_any_route(
    api: Api, path_id: str | None, params: dict[str, str], headers: dict[str, str], loc: list[str]
) -> None:
    """The stream route parses its parameters itself (quorum/decisions/streams.py): the
    same 422s as FastAPI's validation gives every other route."""
    owner = await api.user()
    event = path_id or await api.event(owner)
    r = await api.client.get(sse_path(event), params=params, headers={**owner.auth, **headers})
    body = problem(r, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == [loc]


async def test_websocket_with_a_bad_event_id_is_refused(api: Api, server: Server) -> None:
    """FastAPI's answer to a WebSocket that fails validation (a close before the
    handshake is answered: uvicorn's 403), kept by the hand-parsed route."""
    owner = await api.user()
    with pytest.raises(InvalidStatus) as denied:
        async with ws_connect(ws_url(server, "not-an-id"), additional_headers=owner.auth):
            pass
    assert denied.value.response.status_code == 403
