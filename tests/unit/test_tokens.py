"""Access tokens name their login session (``sid``): a token without a well-formed one
(issued before sessions existed, or hand-made) is ``invalid_token``, whatever its
signature; the signature cache gives back claims, never a verdict on the session."""

import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest

from quorum.accounts import tokens
from quorum.errors import Unauthenticated

KEY = "unit-test-key-" + "k" * 32


def _issue(**claims: str) -> str:
    return tokens.issue(KEY, uuid.uuid4(), tokens.ACCESS_AUDIENCE, timedelta(minutes=5), **claims)


def test_the_caller_is_the_subject_and_the_session() -> None:
    user, session = uuid.uuid4(), uuid.uuid4()
    token = tokens.issue(KEY, user, tokens.ACCESS_AUDIENCE, timedelta(minutes=5), sid=str(session))
    claims = tokens.verify(KEY, token, tokens.ACCESS_AUDIENCE)
    assert tokens.caller(claims) == tokens.Caller(user, session)


@pytest.mark.parametrize("sid", [None, "", "not-a-uuid", "{}"])
def test_a_token_without_a_valid_session_id_is_invalid(sid: str | None) -> None:
    token = _issue() if sid is None else _issue(sid=sid)
    claims = tokens.verify(KEY, token, tokens.ACCESS_AUDIENCE)
    with pytest.raises(Unauthenticated) as refused:
        tokens.caller(claims)
    assert refused.value.code == "invalid_token"


def test_a_session_id_of_another_type_is_invalid() -> None:
    claims = {"sub": str(uuid.uuid4()), "sid": 12345, "aud": tokens.ACCESS_AUDIENCE}
    token = jwt.encode({**claims, "exp": 4_102_444_800}, KEY, algorithm=tokens.ALGORITHM)
    with pytest.raises(Unauthenticated, match="not valid"):
        tokens.caller(tokens.verify(KEY, token, tokens.ACCESS_AUDIENCE))


def _pyjwt(token: str, audience: str = tokens.ACCESS_AUDIENCE) -> dict[str, Any] | None:
    """PyJWT's verdict, as ``tokens`` asks it: the claims, or None if it refuses."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            KEY,
            algorithms=[tokens.ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub"], "verify_exp": False},
        )
    except jwt.InvalidTokenError:
        return None
    return claims


def _signed(payload: dict[str, Any], key: str = KEY, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm=tokens.ALGORITHM, headers=headers or None)


def _variants() -> list[str]:
    """Tokens as ``issue`` makes them, and every way one could differ from them."""
    now = int(time.time())
    good = {"sub": str(uuid.uuid4()), "aud": tokens.ACCESS_AUDIENCE, "iat": now, "exp": now + 60}
    issued = _issue(sid=str(uuid.uuid4()))
    head, body, signature = issued.split(".")
    changed: list[dict[str, Any]] = [
        {**good, "aud": tokens.STREAM_AUDIENCE},
        {**good, "aud": [tokens.ACCESS_AUDIENCE]},
        {**good, "iat": now + 3600},
        {**good, "iat": float(now)},
        {**good, "iat": True},
        {**good, "iat": "0"},
        {**good, "exp": now - 60},  # expired: still claims (``verify`` checks the time)
        {**good, "exp": float(now + 60)},
        {**good, "exp": "soon"},
        {**good, "exp": None},
        {**good, "sub": 7},
        {**good, "sid": 7},
        {**good, "nbf": now + 3600},
        {**good, "jti": 1},
        {**good, "iss": "elsewhere"},
        {k: v for k, v in good.items() if k != "sub"},
        {k: v for k, v in good.items() if k != "exp"},
        {k: v for k, v in good.items() if k != "aud"},
        {k: v for k, v in good.items() if k != "iat"},
        {**good, "evt": str(uuid.uuid4()), "csrf": "x"},
    ]
    return [
        issued,
        _issue(evt=str(uuid.uuid4()), csrf="abc"),
        *(_signed(payload) for payload in changed),
        _signed(good, key=KEY + "x"),
        _signed(good, kid="1"),
        _signed(good, typ="at+jwt"),
        f"{head}.{body}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # tampered
        f"{head}.{body}.{signature[:-1]}{chr(ord(signature[-1]) + 1)}",  # stray bits, maybe
        f"{head}.{body}.{signature}=",
        f"{head}.{body}=.{signature}",
        f"{head}.{body}.{signature}.x",
        f"{head}.{body}x.{signature}",
        f"{head}.{body[:-1]}!.{signature}",
        f"{head}.{body}",
        f"{head}..{signature}",
        f"{head}.e30.{signature}",
        "",
        "not a token",
    ]


def test_the_quick_check_accepts_only_what_pyjwt_accepts_with_the_same_claims() -> None:
    accepted = 0
    for token in _variants():
        quick = tokens._as_issued(KEY, token, tokens.ACCESS_AUDIENCE)
        if quick is not None:
            accepted += 1
            assert quick == _pyjwt(token), token
    assert accepted >= 4  # the issued ones, an expired one, one with every claim kind


def test_a_token_of_another_kind_is_still_verified_by_pyjwt() -> None:
    now = int(time.time())
    payload = {"sub": str(uuid.uuid4()), "aud": [tokens.ACCESS_AUDIENCE], "exp": now + 60}
    token = _signed({**payload, "sid": str(uuid.uuid4())})
    assert tokens._as_issued(KEY, token, tokens.ACCESS_AUDIENCE) is None
    claims = tokens.verify(KEY, token, tokens.ACCESS_AUDIENCE)  # PyJWT takes a list of audiences
    assert claims["aud"] == [tokens.ACCESS_AUDIENCE]
