"""Signed tokens (JWT, HS256): access tokens for the API.

Each kind of token has its own audience, so a token minted for one purpose (a stream
ticket, say) is refused everywhere else.
"""

import functools
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt

from quorum.errors import Unauthenticated

ALGORITHM = "HS256"
ACCESS_AUDIENCE = "quorum:api"
STREAM_AUDIENCE = "quorum:stream"


def issue(key: str, subject: uuid.UUID, audience: str, ttl: timedelta, **claims: str) -> str:
    now = datetime.now(UTC)
    payload = {"sub": str(subject), "aud": audience, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(key: str, token: str, audience: str) -> dict[str, str]:
    """The token's claims; ``Unauthenticated`` if it is forged, expired or for another use."""
    try:
        claims = _verified_signature(key, token, audience)
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid_token", "The token is not valid.") from None
    if float(claims["exp"]) <= time.time():
        raise Unauthenticated("token_expired", "The token has expired.")
    return claims


@functools.lru_cache(maxsize=16_384)
def _verified_signature(key: str, token: str, audience: str) -> dict[str, str]:
    """Signature, audience and required claims, checked once per token: a client sends the
    same token with every request, and decoding it is a tenth of a vote's CPU time. The
    expiry is checked on every use, by ``verify``; a forged token raises and is not kept.
    """
    claims: dict[str, str] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=audience,
        options={"require": ["exp", "sub"], "verify_exp": False},
    )
    return claims


def subject(claims: dict[str, str]) -> uuid.UUID:
    try:
        return uuid.UUID(claims["sub"])
    except ValueError:
        raise Unauthenticated("invalid_token", "The token is not valid.") from None
