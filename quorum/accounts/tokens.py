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

import base64
import binascii
import functools
import hashlib
import hmac
import json
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
    claims = _as_issued(key, token, audience)
    if claims is None:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub"], "verify_exp": False},
        )
    if not _is_numeric_date(claims["exp"]) or not isinstance(claims["sub"], str):
        raise jwt.InvalidTokenError("exp must be a number and sub a string")
    return claims


# What ``issue`` makes: PyJWT's header for HS256 (keys sorted, no spaces), these claims.
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=") + b"."
_TEXT_CLAIMS = {"sub", "aud", "sid", "evt", "csrf"}
_CLAIMS = _TEXT_CLAIMS | {"iat", "exp"}


def _as_issued(key: str, token: str, audience: str) -> dict[str, Any] | None:
    """The claims of a token exactly as ``issue`` makes them, checked without PyJWT,
    whose decoding is about 40 µs (most of it checking the base64 alphabet character by
    character), paid by each token's first use (a vote's whole CPU is about 1 ms). None
    for anything else (another header, a bad signature, other claims or types, non-
    canonical base64, a future ``iat``): PyJWT then decides, and says why. What this
    accepts, PyJWT accepts with the same claims (tests/unit/test_tokens.py compares)."""
    raw = token.encode()
    if not raw.startswith(_HEADER):
        return None
    body, dot, signature = raw[len(_HEADER) :].partition(b".")
    payload, sent = _segment(body), _segment(signature)
    if not dot or payload is None or sent is None:
        return None
    expected = hmac.new(key.encode(), raw[: len(_HEADER) + len(body)], hashlib.sha256).digest()
    if not hmac.compare_digest(sent, expected):
        return None
    try:
        claims = json.loads(payload)
    except ValueError:
        return None
    plain = (
        type(claims) is dict
        and claims.keys() <= _CLAIMS
        and all(type(claims.get(name, "")) is str for name in _TEXT_CLAIMS)
        and "sub" in claims
        and claims.get("aud") == audience
        and type(claims.get("exp")) is int
        and type(claims.get("iat", 0)) is int
        and claims.get("iat", 0) <= time.time()
    )
    return claims if plain else None


def _segment(segment: bytes) -> bytes | None:
    """A base64url segment's bytes, if it is canonical: no padding, no other character,
    no stray bits (as PyJWT requires); None otherwise."""
    try:
        decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except binascii.Error:
        return None
    return decoded if base64.urlsafe_b64encode(decoded).rstrip(b"=") == segment else None


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
