"""What guards the API, installed in one call: the login and registration rate limit,
the per-user stream cap, and CORS when configured (the rest of the edge, security
headers and body cap included, is quorum/api/edge.py).

CORS is off unless ``QUORUM_CORS_ORIGINS`` lists origins: a page on another origin can
only call the API if it is allowed explicitly, and only the listed origins are, with
bearer tokens: never with credentials, so the session cookie (quorum/accounts/browser.py)
serves Quorum's own page alone.
"""

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from quorum.api.ratelimit import AuthLimiter
from quorum.api.streamcap import StreamCap
from quorum.settings import Settings

CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID", "Range"]
CORS_EXPOSED = [
    "Retry-After",
    "Idempotent-Replayed",
    "Location",
    "Content-Disposition",  # attachment downloads
    "Content-Range",
]
CORS_METHODS = ["GET", "POST", "PATCH", "DELETE"]


def install(app: FastAPI, settings: Settings) -> None:
    """Add the limiters and CORS's middleware; close with ``close``."""
    app.state.auth_limiter = AuthLimiter.from_settings(settings)
    app.state.stream_cap = StreamCap(settings.max_streams_per_user, settings.max_streams)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
        )


async def close(app: FastAPI) -> None:
    limiter: AuthLimiter = app.state.auth_limiter
    await limiter.close()
