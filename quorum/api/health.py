"""Liveness and readiness probes.

``/healthz`` says the process runs; ``/readyz`` says it can serve, by asking the
database now (a cached answer would keep a dead instance in the load balancer).
"""

from fastapi import APIRouter, Request
from starlette.responses import Response

from quorum.api.errors import RETRY_AFTER_SECONDS, problem
from quorum.db.retry import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, object] | Response:
    if await ping(request.app.state.engine):
        return {"status": "ready", "checks": {"database": "ok"}}
    return problem(
        503,
        "not_ready",
        "The database cannot be reached.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        checks={"database": "unavailable"},
    )
