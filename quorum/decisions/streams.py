"""Live routes of an event: stream tickets, the SSE stream, the WebSocket.

Non-browser clients authenticate with ``Authorization: Bearer``. A browser's
EventSource cannot send headers and reconnects by itself to the same URL, so it uses a
*stream ticket* in the URL: a signed token (user, event, 5 minutes, audience "stream"),
valid on every instance and across restarts for every automatic reconnect until it
expires; then the page fetches a new one and reopens with ``?last_event_id=N``.

The web page needs neither: its session cookie (quorum/accounts/browser.py) opens both
routes, reconnects included. A WebSocket is not bound by the same-origin policy (any
site's page may open one to us, and the browser attaches our cookie), so one opened
with the cookie must come from our own origin: 403 ``csrf_failed`` otherwise. The SSE
stream needs no such check: it only reads, and another site's page cannot read it.

Membership is checked once, when a stream opens, after it has subscribed and before
its response starts (``eviction.admission``, asked by the real-time core): the answer is
the route's (a clear 401/403/404) and the stream's admission, so a removal or logout
committing after it reaches the stream as a message and ends it; each stream's principal
is its user, so a ``membership.removed`` naming them ends it
(quorum/decisions/eviction.py). Handshakes arriving together share that query: a
reconnect storm costs a few round trips, not one per stream (docs/realtime.md). The SSE
route is no ``TransactionalRoute`` for that reason: it holds no pooled connection.
A ticket carries the login session it was minted in (``sid``), like the access token:
a stream opens only while that session is live, and is the stream's session: when the
session ends (log out, password change, sign out everywhere, account deletion) the
stream ends too, on every instance.
"""

import functools
import uuid
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState

from quorum.accounts import browser, tokens
from quorum.accounts.tokens import Caller
from quorum.api import plain
from quorum.api.deps import SettingsDep, TokenCaller
from quorum.api.problems import NO_BODY, STREAMS_FULL, TOO_MANY_STREAMS, problems
from quorum.api.routing import TransactionalRoute
from quorum.api.streamcap import CappedResponse, StreamCap, refusal
from quorum.decisions import events, eviction, projection
from quorum.decisions.access import EventMember
from quorum.decisions.problems import INVALID_LAST_EVENT_ID, MEMBER, TICKET_WRONG_EVENT
from quorum.errors import DomainError, InvalidInput, Overloaded, PermissionDenied, Unauthenticated
from quorum.realtime import ws
from quorum.realtime.sse import EventStreamResponse
from quorum.realtime.stream import Streams
from quorum.realtime.ws import TRY_AGAIN_LATER
from quorum.settings import Settings

TICKET_TTL = timedelta(minutes=5)
TICKET_MAX = 2048

router = APIRouter(route_class=TransactionalRoute, tags=["live"])
contract_router = APIRouter(tags=["live"])
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


class TicketOut(BaseModel):
    ticket: str
    expires_in: int


@router.post(
    "/events/{event_id}/stream-tickets", status_code=201, responses=problems(MEMBER, NO_BODY)
)
async def issue_ticket(
    access: EventMember, caller: TokenCaller, settings: SettingsDep
) -> TicketOut:
    """A 5-minute ticket for ``?ticket=`` on the stream and WebSocket URLs, where a
    browser cannot send an Authorization header. Takes no body."""
    ticket = tokens.issue(
        settings.signing_key(),
        access.user_id,
        tokens.STREAM_AUDIENCE,
        TICKET_TTL,
        evt=str(access.event_id),
        sid=str(caller.session_id),
    )
    return TicketOut(ticket=ticket, expires_in=int(TICKET_TTL.total_seconds()))


def stream_caller(
    settings: Settings,
    conn: HTTPConnection,
    event_id: uuid.UUID,
    ticket: str | None,
    bearer: str | None,
) -> Caller:
    """The user (and session) behind a stream ticket for this event, a bearer access
    token or the page's session cookie, in this order; the session is checked by
    ``eviction.admission``."""
    key = settings.signing_key()
    if ticket:
        claims = tokens.verify(key, ticket, tokens.STREAM_AUDIENCE)
        if claims.get("evt") != str(event_id):
            raise PermissionDenied("ticket_wrong_event", "This stream ticket is for another event.")
        return tokens.caller(claims)
    if bearer:
        return tokens.caller(tokens.verify(key, bearer, tokens.ACCESS_AUDIENCE))
    found = browser.from_cookie(conn, key)
    if found is None:
        raise Unauthenticated(
            "not_authenticated", "Send a bearer token or a stream ticket (?ticket=)."
        )
    if conn.scope["type"] == "websocket" and not browser.same_origin(conn):
        raise browser.csrf_failed()  # cross-site WebSocket hijacking
    return found.caller


def parse_resume(header: str | None, query: str | None) -> int | None:
    """The position to resume after: ASCII digits only. ``str.isdigit()`` alone also takes
    "²" and "①" (which ``int()`` refuses: a 500) and "٣" (which ``int()`` reads as 3)."""
    raw = header if header is not None else query
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidInput("invalid_last_event_id", "Last-Event-ID must be a non-negative integer.")
    return int(raw)


@functools.cache
def _contract() -> bytes:
    return orjson.dumps(events.contract_document())


@contract_router.get(
    "/asyncapi.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def asyncapi() -> Response:
    """The event contract: every stream message type and its fields, as AsyncAPI 3.0."""
    return Response(_contract(), media_type="application/json")


stream_router = APIRouter(route_class=plain.PlainRoute, tags=["live"])


def _capped(
    where: str, name: str, value: str | None, limit: int, errors: list[dict[str, Any]]
) -> str | None:
    """``value`` if at most ``limit`` characters, as ``Query(max_length=)`` checks it."""
    if value is not None and len(value) > limit:
        msg = f"String should have at most {limit} character{'s' if limit != 1 else ''}"
        errors.append({"type": "string_too_long", "loc": (where, name), "msg": msg})
    return value


async def open_stream(scope: Scope, receive: Receive) -> Response:
    """``stream``'s response to this request, served plain (quorum/api/plain.py): a
    stream's request lives as long as the stream, and so does whatever serving it keeps
    alive. FastAPI's request handling (its exit stacks, the ``Request``, the solved
    dependency values, the handler frames around the endpoint) was about 8 KB of every
    idle stream (bench/fanout/memprobe.py, issue 14). ``RequestValidationError`` (422)
    for what FastAPI's validation would refuse. A function of its own, so that nothing
    it parsed outlives it: the response is sent from a frame that holds only it."""
    conn = HTTPConnection(scope)
    errors: list[dict[str, Any]] = []
    event_id = plain.path_uuid(conn, "event_id", errors)
    query = conn.query_params
    ticket = _capped("query", "ticket", query.get("ticket"), TICKET_MAX, errors)
    last_event_id = _capped("query", "last_event_id", query.get("last_event_id"), 20, errors)
    header = _capped("header", "Last-Event-ID", conn.headers.get("last-event-id"), 20, errors)
    if errors:
        raise RequestValidationError(errors)
    settings: Settings = scope["app"].state.settings
    return stream(conn, event_id, settings, plain.bearer_of(conn), ticket, last_event_id, header)


@stream_router.get(
    "/events/{event_id}/stream",
    response_class=EventStreamResponse,
    status_code=200,  # FastAPI cannot read it off the response class, and /openapi.json fails
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problems(
            MEMBER, TICKET_WRONG_EVENT, INVALID_LAST_EVENT_ID, TOO_MANY_STREAMS, STREAMS_FULL
        ),
    },
)
@plain.served_by(open_stream)
def stream(
    conn: HTTPConnection,
    event_id: uuid.UUID,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(_bearer)],
    ticket: Annotated[str | None, Query(max_length=TICKET_MAX)] = None,
    last_event_id: Annotated[str | None, Query(max_length=20)] = None,
    last_event_id_header: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=20)
    ] = None,
) -> CappedResponse:
    """Server-Sent Events: a ``snapshot`` first, or the missed entries after
    ``Last-Event-ID`` (header, or ``?last_event_id=`` for a fresh EventSource), then live.
    429 ``too_many_streams`` when the user already holds the maximum of open streams,
    503 ``streams_full`` when this server does (both with Retry-After). Opened with a
    bearer token, a stream ticket (``?ticket=``) or the page's session cookie."""
    cap: StreamCap = conn.app.state.stream_cap
    cap.check_room()  # before the database is asked: a storm's refusals cost nothing
    caller = stream_caller(settings, conn, event_id, ticket, bearer)
    resume_from = parse_resume(last_event_id_header, last_event_id)
    streams: Streams = conn.app.state.streams
    response = EventStreamResponse(  # asks ``eviction.admission``: it may be a 401/403/404
        streams,
        event_id,
        resume_from,
        projection.MEMBER,  # until admitted: the audience that sees least
        principal=eviction.principal(caller.user_id),
        session=eviction.session_key(caller.session_id),
    )
    return CappedResponse(response, cap, caller.user_id)


def _open_websocket(websocket: WebSocket, cap: StreamCap) -> tuple[uuid.UUID, Caller, int | None]:
    """The event, caller and resume position of a WebSocket request, checked as
    ``stream``'s are; a function of its own, like ``open_stream``, so that nothing it
    parsed (the query, the ticket) outlives it in the frame serving the socket."""
    errors: list[dict[str, Any]] = []
    event_id = plain.path_uuid(websocket, "event_id", errors)
    query = QueryParams(websocket.scope["query_string"])  # not cached on ``websocket``
    ticket = _capped("query", "ticket", query.get("ticket"), TICKET_MAX, errors)
    last_event_id = _capped("query", "last_event_id", query.get("last_event_id"), 20, errors)
    if errors:
        raise WebSocketRequestValidationError(errors)  # FastAPI's handler: close 1008
    cap.check_room()  # before the database is asked: a storm's refusals cost nothing
    settings: Settings = websocket.app.state.settings
    caller = stream_caller(settings, websocket, event_id, ticket, plain.bearer_of(websocket))
    return event_id, caller, parse_resume(None, last_event_id)


async def websocket(websocket: WebSocket) -> None:
    """The same messages as JSON text frames. Resume with ``?last_event_id=N`` on connect;
    ``{"resume_from": N}`` later never repeats an entry (behind: a fresh snapshot).
    When this server holds all the streams it can, the socket is accepted and closed at
    once with 1013 (try again later), the wait in seconds in the reason: a browser's
    WebSocket cannot read a refused handshake's status.

    A plain Starlette WebSocket route, like the SSE route for the same reason (a socket
    keeps what serving it keeps alive); not in /openapi.json, which has no WebSockets."""
    cap: StreamCap = websocket.app.state.stream_cap
    try:
        event_id, caller, resume_from = _open_websocket(websocket, cap)
        slot = cap.acquire(caller.user_id)
    except Overloaded as exc:
        await websocket.accept()
        await websocket.close(TRY_AGAIN_LATER, f"{exc.code}; retry after {exc.retry_after} s")
        return
    except DomainError as exc:
        await websocket.send_denial_response(refusal(exc))
        return
    try:
        await ws.serve(
            websocket,
            websocket.app.state.streams,
            event_id,
            resume_from,
            projection.MEMBER,  # until admitted: the audience that sees least
            principal=eviction.principal(caller.user_id),
            session=eviction.session_key(caller.session_id),
        )
    except DomainError as exc:
        if websocket.application_state is not WebSocketState.CONNECTING:
            raise  # not the admission's refusal: the handshake was answered
        await websocket.send_denial_response(refusal(exc))  # ``eviction.admission``'s
    finally:
        slot.release()


class _PlainWebSocket:
    """The WebSocket route's ASGI app: ``websocket`` called as is. Given a function,
    Starlette's ``WebSocketRoute`` wraps it in exception handling of its own (a closure
    per socket, about 1.5 KB of every idle one); the app's ``ExceptionMiddleware`` calls
    the same handlers (FastAPI's close 1008 on a validation error) for what it raises."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await websocket(WebSocket(scope, receive, send))


stream_router.add_websocket_route("/events/{event_id}/ws", _PlainWebSocket())  # type: ignore[arg-type]
