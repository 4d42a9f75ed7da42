"""The hot writes, served plain (quorum/api/plain.py): a vote, its withdrawal, a comment,
a new proposal.

On PostgreSQL each is one autocommitted statement (quorum/decisions/at_once.py); what
was left of their CPU was the Python around it, a third of it FastAPI's per-request
work. These handlers do what their FastAPI routes in quorum/decisions/router.py do, in
the same order, with the same answers:

1. the body: a vote or a withdrawal refuses one (``refuse_body``, as
   ``TransactionalRoute`` does first); a comment or a proposal reads it before anything
   else, as FastAPI does (so JSON that does not parse is 400 even without a token);
2. the caller (``token_caller``, the dependency itself: bearer token, or the session
   cookie with its CSRF check): 401/403;
3. the path's ids, then the body's fields: one 422 listing every error;
4. the service's ``*_as`` function in the request's ``transaction``, as the route's;
5. the response model encoded once, FastAPI's status and content type.

A request with an Idempotency-Key goes to the FastAPI route instead (the handler
returns None): its claim and stored response belong to ``TransactionalRoute``, and such
requests are the few retried ones, not the hot path. SQLite is served here as on
PostgreSQL: the ``*_as`` functions choose their transactional path themselves
(``service._autocommits``), in the same unit of work the route would have opened.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from quorum.accounts.tokens import Caller
from quorum.api import idempotency, plain
from quorum.api.bodyless import refuse_body
from quorum.api.deps import token_caller
from quorum.api.routing import transaction
from quorum.decisions import service
from quorum.decisions.schemas import CommentCreate, CommentOut, ProposalCreate, ProposalOut, VoteOut

_COMMENT_IN = TypeAdapter(CommentCreate)
_PROPOSAL_IN = TypeAdapter(ProposalCreate)
_VOTE_OUT = TypeAdapter(VoteOut)
_COMMENT_OUT = TypeAdapter(CommentOut)
_PROPOSAL_OUT = TypeAdapter(ProposalOut)
_IDEMPOTENCY_KEY = idempotency.HEADER.lower()
_ON_PROPOSAL = ("event_id", "proposal_id")
_ON_EVENT = ("event_id",)


class _Write(NamedTuple):
    request: Request
    caller: Caller
    ids: list[uuid.UUID]
    body: Any


_Run = Callable[[AsyncSession, _Write], Awaitable[Response]]


async def _parse(
    scope: Scope, receive: Receive, ids: tuple[str, ...], body: TypeAdapter[Any] | None
) -> _Write | None:
    """The request checked as its FastAPI route checks it (steps 1-3 above): the caller,
    the path's ``ids`` and the ``body`` model (None: the route takes no body). None for
    a request with an Idempotency-Key, which is the route's."""
    request = Request(scope, receive)
    if _IDEMPOTENCY_KEY in request.headers:
        return None
    if body is None:
        await refuse_body(request)
    else:
        raw = await plain.json_body(request)
    caller = await token_caller(request, plain.bearer_of(request))
    errors: list[dict[str, Any]] = []
    values = [plain.path_uuid(request, name, errors) for name in ids]
    model = None if body is None else plain.validated(body, raw, errors)
    if errors:
        raise RequestValidationError(errors)
    return _Write(request, caller, values, model)


def _served(ids: tuple[str, ...], body: TypeAdapter[Any] | None, run: _Run) -> plain.Handler:
    """The handler of a write: ``_parse``, then ``run`` in the request's transaction."""

    async def handler(scope: Scope, receive: Receive) -> Response | None:
        write = await _parse(scope, receive, ids, body)
        if write is None:
            return None
        async with transaction(write.request) as session:
            return await run(session, write)

    return handler


async def _vote(session: AsyncSession, write: _Write) -> Response:
    event_id, proposal_id = write.ids
    out = await service.cast_vote_as(session, write.caller, event_id, proposal_id)
    return plain.json_response(_VOTE_OUT, out, 201)


async def _withdrawal(session: AsyncSession, write: _Write) -> Response:
    event_id, proposal_id = write.ids
    await service.withdraw_vote_as(session, write.caller, event_id, proposal_id)
    return Response(status_code=204)


async def _comment(session: AsyncSession, write: _Write) -> Response:
    event_id, proposal_id = write.ids
    text = write.body.body
    out = await service.add_comment_as(session, write.caller, event_id, proposal_id, text)
    return plain.json_response(_COMMENT_OUT, out, 201)


async def _proposal(session: AsyncSession, write: _Write) -> Response:
    (event_id,) = write.ids
    out = await service.create_proposal_as(session, write.caller, event_id, write.body)
    return plain.json_response(_PROPOSAL_OUT, out, 201)


cast_vote = _served(_ON_PROPOSAL, None, _vote)
withdraw_vote = _served(_ON_PROPOSAL, None, _withdrawal)
add_comment = _served(_ON_PROPOSAL, _COMMENT_IN, _comment)
create_proposal = _served(_ON_EVENT, _PROPOSAL_IN, _proposal)
