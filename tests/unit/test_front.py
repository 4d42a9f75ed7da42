"""quorum/api/front.py: the SSE stream's route served ahead of the middleware stack answers
what it refuses exactly as the stack does (status, headers, problem body), and leaves to
the stack every request it would not answer the same way. In-process, with no database:
the refusals below come before the stream reads anything (the app-level tests check the
rest through a real server: tests/test_stream*.py, tests/test_security_headers.py)."""

import json
import uuid
from typing import Any

import pytest
from starlette.types import Message

from quorum.app import create_app
from quorum.settings import Settings

SECRET = "front-test-secret-key-front-test-secret-key"
STREAM = f"/api/v1/events/{uuid.uuid4()}/stream"


def app() -> Any:
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://x@127.0.0.1/x",
                        secret_key=SECRET, access_log=False)  # fmt: skip
    return create_app(settings)


def scope(path: str = STREAM, method: str = "GET", **extra: Any) -> dict[str, Any]:
    headers = [(b"host", b"testserver"), (b"x-request-id", b"req-1"), *extra.pop("headers", [])]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": extra.pop("query", b""), "headers": headers,
            "client": ("127.0.0.1", 5000), "server": ("testserver", 80), **extra}  # fmt: skip


async def answer(application: Any, request: dict[str, Any]) -> tuple[int, list[Any], Any]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await application(request, receive, send)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], sorted(sent[0]["headers"]), json.loads(body)


@pytest.mark.parametrize(
    "request_",
    [
        scope(),  # no credentials: 401
        scope(headers=[(b"authorization", b"Bearer not-a-token")]),  # 401
        scope(path="/api/v1/events/not-a-uuid/stream"),  # 422
        scope(query=b"last_event_id=" + b"9" * 21),  # 422 (too long)
        scope(headers=[(b"last-event-id", b"x")]),  # 401 (credentials are read first)
    ],
)
async def test_the_front_refuses_as_the_stack_does(request_: dict[str, Any]) -> None:
    fronted, stacked = app(), app()
    stacked.front = None
    assert fronted.front.takes(dict(request_))
    front_answer = await answer(fronted, dict(request_))
    assert front_answer == await answer(stacked, dict(request_))
    status, headers, _ = front_answer
    assert status in (401, 422)
    assert (b"x-request-id", b"req-1") in headers  # the edge's headers are there
    assert (b"x-content-type-options", b"nosniff") in headers


async def test_an_unexpected_error_is_the_500_of_the_stack() -> None:
    fronted, stacked = app(), app()
    stacked.front = None
    sent: list[list[Message]] = []
    for application in (fronted, stacked):
        application.state.stream_cap = None  # the route fails on it: AttributeError
        messages: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message, into: list[Message] = messages) -> None:
            into.append(message)

        with pytest.raises(AttributeError):
            await application(scope(), receive, send)
        sent.append(messages)
    assert sent[0] == sent[1]
    assert sent[0][0]["status"] == 500
    assert b"x-request-id" not in dict(sent[0][0]["headers"])  # answered outside the edge


@pytest.mark.parametrize(
    "request_",
    [
        scope(method="POST"),  # the stack's 405
        scope(method="HEAD"),  # FastAPI's GET route takes no HEAD: 405 too
        scope(path="/api/v1/events/x/stream-tickets"),
        scope(path="/healthz"),
        scope(headers=[(b"transfer-encoding", b"chunked")]),  # a body to count
        scope(headers=[(b"content-length", b"5")]),
        scope(http_version="2"),  # a body needs no header
        scope(root_path="/behind"),
        {"type": "websocket", "path": STREAM, "headers": []},
    ],
)
def test_the_front_leaves_the_rest_to_the_stack(request_: dict[str, Any]) -> None:
    assert not app().front.takes(request_)


def test_no_front_with_cors_its_middleware_adds_headers() -> None:
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://x@127.0.0.1/x",
                        secret_key=SECRET, cors_origins=["https://example.org"])  # fmt: skip
    assert create_app(settings).front is None
