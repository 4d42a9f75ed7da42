"""``/metrics``: this process's Prometheus metrics, in the text exposition format."""

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """This process's Prometheus metrics, in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
