"""``TransactionalRoute``: one request, one transaction, committed before the reply leaves.

FastAPI runs the exit code of yield-dependencies after the response has been sent, so a
commit there could fail after the client was told "201". This route class instead
wraps the endpoint: it opens the unit of work, runs dependencies and endpoint, stores
the idempotency record with the rendered response, commits, and only then returns the
response to be sent. Any exception rolls the whole request back. GET and HEAD run in
read-only transactions (on SQLite: without taking the write lock).
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.responses import Response

from quorum.api import idempotency
from quorum.db.uow import READ_ONLY, transaction

_READ_METHODS = frozenset({"GET", "HEAD"})
REPLAYS = Counter(
    "quorum_idempotent_replays_total", "Responses replayed for a repeated Idempotency-Key."
)


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                async with transaction(request.app.state.sessionmaker) as session:
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
