"""Liveness and readiness probes.

``/healthz`` says the process runs; ``/readyz`` says it can serve, by asking the
database now (a cached answer would keep a dead instance in the load balancer). It also
reports the broker, without failing on it: without Redis, live events reach other
instances' clients late (from the log) but none is lost, so taking every instance out of
the load balancer would turn a delay into an outage.
"""

from fastapi import APIRouter, Request
from starlette.responses import Response

from quorum.api.errors import RETRY_AFTER_SECONDS, problem
from quorum.api.problems import NOT_READY, problems
from quorum.db.retry import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests. It asks nothing of the database."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None, responses=problems(NOT_READY))
async def readyz(request: Request) -> dict[str, object] | Response:
    """Readiness: the database answers now; the broker's state is reported, not required."""
    broker = request.app.state.realtime.broker.status()
    if await ping(request.app.state.engine):
        return {"status": "ready", "checks": {"database": "ok", "broker": broker}}
    return problem(
        503,
        "not_ready",
        "The database cannot be reached.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        checks={"database": "unavailable", "broker": broker},
    )
