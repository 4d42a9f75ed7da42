"""Signed tokens (JWT, HS256): access tokens for the API.

Each kind of token has its own audience, so a token minted for one purpose (a stream
ticket, say) is refused everywhere else.

Access tokens and stream tickets name the login session they belong to (``sid``): the
token is only as valid as that session row (quorum/accounts/models.py), which the
routes read on every use. Tokens issued before sessions existed carry no ``sid`` and
are ``invalid_token``: their holders log in again.

A token signed with our key can still carry claims of the wrong type (a bug in another
issuer, a hand-made test token): ``exp`` must be a finite JSON number and ``sub`` a
UUID string, or the token is ``invalid_token`` like any other bad one, never a 500.
"""

import functools
import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import jwt

from quorum.errors import Unauthenticated

ALGORITHM = "HS256"
ACCESS_AUDIENCE = "quorum:api"
STREAM_AUDIENCE = "quorum:stream"
BROWSER_AUDIENCE = "quorum:browser"  # the web page's session cookie (quorum/accounts/browser.py)


def issue(key: str, subject: uuid.UUID, audience: str, ttl: timedelta, **claims: str) -> str:
    now = datetime.now(UTC)
    payload = {"sub": str(subject), "aud": audience, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(key: str, token: str, audience: str) -> dict[str, Any]:
    """The token's claims; ``Unauthenticated`` if it is forged, expired or for another use."""
    try:
        claims = _verified_signature(key, token, audience)
    except jwt.InvalidTokenError:
        raise _invalid() from None
    # An int compares exactly with a float however large it is: no float() that overflows.
    if claims["exp"] <= time.time():
        raise Unauthenticated("token_expired", "The token has expired.")
    return claims


@functools.lru_cache(maxsize=16_384)
def _verified_signature(key: str, token: str, audience: str) -> dict[str, Any]:
    """Signature, audience, required claims and their types, checked once per token: a
    client sends the same token with every request, and decoding it is a tenth of a
    vote's CPU time. The expiry is checked on every use, by ``verify``; a token that
    fails raises and is not kept.
    """
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=audience,
        options={"require": ["exp", "sub"], "verify_exp": False},
    )
    if not _is_numeric_date(claims["exp"]) or not isinstance(claims["sub"], str):
        raise jwt.InvalidTokenError("exp must be a number and sub a string")
    return claims


def _is_numeric_date(value: object) -> bool:
    """RFC 7519 NumericDate: a JSON number. Not a bool (an int to Python), not a string,
    and not NaN or Infinity, which Python's JSON parser accepts and which no comparison
    with "now" would ever call expired."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def subject(claims: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(claims["sub"])
    except (TypeError, ValueError):
        raise _invalid() from None


class Caller(NamedTuple):
    """Who a token speaks for: the user, and the login session it was issued in."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def caller(claims: dict[str, Any]) -> Caller:
    """The token's user and session; ``invalid_token`` without a well-formed ``sid``."""
    sid = claims.get("sid")
    if not isinstance(sid, str):
        raise _invalid()
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
        raise _invalid() from None
    return Caller(subject(claims), session_id)


def _invalid() -> Unauthenticated:
    return Unauthenticated("invalid_token", "The token is not valid.")
