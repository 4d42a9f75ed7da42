"""``PlainRoute``: a route that FastAPI declares and documents, served without its
per-request machinery.

FastAPI serves a request by solving the endpoint's dependency tree against it (every
parameter, every ``Depends``, each a pass of its solver), calling the endpoint, then
validating what it returned against the response model and encoding it. For the hot
writes that is more of a vote's CPU than its one SQL statement (bench/votes: FastAPI,
its dependency solving and pydantic were about a third of the server's time), and a
stream keeps whatever served it alive as long as it lasts (issue 14).

A ``PlainRoute`` whose endpoint is marked ``@served_by(handler)`` hands each request to
``handler(scope, receive)`` instead, which parses it by hand and returns the response.
The declaration stays FastAPI's: /openapi.json documents the route from the endpoint's
signature like any other, where a hand-written schema fragment would repeat what FastAPI
derives and drift from the code. The helpers below answer what is malformed as FastAPI
does (the same exceptions, so the same 400/422 bodies from quorum/api/errors.py). A
handler may return None: the request is then FastAPI's after all (a write with an
Idempotency-Key, quorum/decisions/writes.py). A method the route lacks is FastAPI's 405.
The app's middleware and exception handlers wrap a plain route as any other, and the
route was picked by FastAPI's routing, so the edge's metrics name its template.
"""

import email.message
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[Scope, Receive], Awaitable[Response | None]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
T = TypeVar("T")
_HANDLER = "__quorum_plain__"
MISSING: Any = object()  # ``json_body``'s "no body at all"
_UUID = TypeAdapter(uuid.UUID)


def served_by(handler: Handler) -> Callable[[Endpoint], Endpoint]:
    """Mark a FastAPI endpoint: its ``PlainRoute`` serves requests with ``handler``."""

    def mark(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, _HANDLER, handler)
        return endpoint

    return mark


class PlainRoute(APIRoute):
    """An ``APIRoute`` served by its endpoint's ``served_by`` handler, if it has one."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.plain: Handler | None = getattr(endpoint, _HANDLER, None)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.plain is not None and scope["method"] in (self.methods or ()):
            response = await self.plain(scope, receive)
            if response is not None:
                await response(scope, receive, send)
                return
        await super().handle(scope, receive, send)  # FastAPI's (its 405 included)


def bearer_of(conn: HTTPConnection) -> str | None:
    """The token of ``Authorization: Bearer``, as ``OAuth2PasswordBearer(auto_error=False)``
    reads it."""
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def path_uuid(conn: HTTPConnection, name: str, errors: list[dict[str, Any]]) -> uuid.UUID:
    """The path parameter ``name`` as a UUID; FastAPI's error for it added to ``errors``."""
    try:
        return _UUID.validate_python(conn.path_params[name])
    except ValidationError as exc:
        errors += [{**e, "loc": ("path", name, *e["loc"])} for e in exc.errors()]
        return uuid.UUID(int=0)  # never used: ``errors`` is raised


async def json_body(request: Request) -> Any:
    """The body as FastAPI hands it to a body parameter: parsed when the content type is
    JSON, the bytes when it is another (or none: FastAPI's strict content type), which
    then fail validation, ``MISSING`` when there is none. JSON that does not parse is the
    ``RequestValidationError`` FastAPI raises (400 ``malformed_json``), bytes that are not
    text or nest too deep its 400 ``HTTPException``; the edge's 413 goes through."""
    try:
        raw = await request.body()
        if not raw:
            return MISSING
        content_type = request.headers.get("content-type")
        return json.loads(raw) if content_type and _is_json(content_type) else raw
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(400, "There was an error parsing the body") from exc


def _is_json(content_type: str) -> bool:
    if content_type == "application/json":  # what nearly every client sends
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def validated(model: TypeAdapter[T], body: Any, errors: list[dict[str, Any]]) -> T | None:
    """``body`` (from ``json_body``) as the endpoint's body parameter; FastAPI's errors
    for it (under ``body``) added to ``errors``."""
    if body is MISSING:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
        return None
    try:
        return model.validate_python(body, from_attributes=True)
    except ValidationError as exc:
        errors += [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        return None


def json_response(model: TypeAdapter[T], value: T, status: int) -> Response:
    """``value`` encoded once by its response model, as FastAPI encodes a route's result."""
    return Response(model.dump_json(value, by_alias=True), status, media_type="application/json")
