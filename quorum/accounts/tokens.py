"""Signed tokens (JWT, HS256): access tokens for the API.

Each kind of token has its own audience, so a token minted for one purpose (a stream
ticket, say) is refused everywhere else.
"""

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
        claims: dict[str, str] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token_expired", "The token has expired.") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid_token", "The token is not valid.") from None
    return claims


def subject(claims: dict[str, str]) -> uuid.UUID:
    try:
        return uuid.UUID(claims["sub"])
    except ValueError:
        raise Unauthenticated("invalid_token", "The token is not valid.") from None
