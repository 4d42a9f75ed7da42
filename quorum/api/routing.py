"""``TransactionalRoute``: one request, one transaction, committed before the reply leaves.

FastAPI runs the exit code of yield-dependencies after the response has been sent, so a
commit there could fail after the client was told "201". This route class instead
wraps the endpoint: it opens the unit of work, runs dependencies and endpoint, stores
the idempotency record with the rendered response, commits, and only then returns the
response to be sent. Any exception rolls the whole request back. GET and HEAD run in
read-only transactions (on SQLite: without taking the write lock).

A foreign key violation is where a deleted account shows up on a write that nothing
checked first (creating an event, requesting a membership, a race with the deletion):
the route then asks whether the caller still exists and answers 401 ``user_not_found``
if not. The question is asked only after such a failure, so no write pays for it.

Every mutating route that names its caller (``token_caller``: a bearer token or the
page's session cookie) can answer 403 ``csrf_failed`` (quorum/accounts/browser.py); the
route class adds it to the route's documented errors, read off the dependency tree, so
no route has to remember it.
"""

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from prometheus_client import Counter
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from quorum.accounts.repository import user_exists
from quorum.accounts.service import user_not_found
from quorum.api import idempotency
from quorum.api.bodyless import refuse_body
from quorum.api.deps import token_caller
from quorum.api.plain import PlainRoute
from quorum.api.problems import CSRF_FAILED, add_cases
from quorum.db.errors import is_foreign_key_violation
from quorum.db.uow import READ_ONLY, UnitOfWork, read_only

_READ_METHODS = frozenset({"GET", "HEAD"})
_MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYS = Counter(
    "quorum_idempotent_replays_total", "Responses replayed for a repeated Idempotency-Key."
)


class TransactionalRoute(PlainRoute):
    """Also a ``PlainRoute``: an endpoint marked ``served_by`` is served by its handler,
    which opens its own ``transaction``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if _MUTATING_METHODS.intersection(self.methods or ()) and _authenticates(self.dependant):
            self.responses = add_cases(self.responses, CSRF_FAILED)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()
        # A mutating route that declares no body refuses one (quorum/api/bodyless.py).
        mutating = bool(_MUTATING_METHODS.intersection(self.methods or ()))
        refuses_body = mutating and self.body_field is None

        async def handler(request: Request) -> Response:
            if refuses_body:
                await refuse_body(request)
            try:
                async with transaction(request) as session:
                    if request.method in _READ_METHODS:
                        await session.connection(execution_options={READ_ONLY: True})
                    request.state.session = session
                    response = await endpoint(request)
                    claimed = getattr(request.state, "idempotency", None)
                    if claimed is not None and response.status_code < 400:
                        await idempotency.store(session, claimed, response)
            except idempotency.IdempotentReplay as replay:
                REPLAYS.inc()
                return replay.response
            return response

        return handler


@asynccontextmanager
async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work (committed when the block ends); a foreign key
    violation by a caller whose account is gone is 401 ``user_not_found``."""
    uow: UnitOfWork = request.app.state.uow  # built by the app, with its publisher
    try:
        async with uow.transaction() as session:
            yield session
    except sa_exc.IntegrityError as exc:
        if is_foreign_key_violation(exc) and await _caller_is_gone(request):
            raise user_not_found() from exc
        raise


def _authenticates(dependant: Dependant) -> bool:
    """Whether ``token_caller`` is among the dependencies, however deep."""
    return any(sub.call is token_caller or _authenticates(sub) for sub in dependant.dependencies)


async def _caller_is_gone(request: Request) -> bool:
    user_id = getattr(request.state, "user_id", None)  # set by ``token_caller``
    if user_id is None:
        return False
    async with read_only(request.app.state.sessionmaker) as session:
        return not await user_exists(session, user_id)
