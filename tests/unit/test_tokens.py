"""Access tokens name their login session (``sid``): a token without a well-formed one
(issued before sessions existed, or hand-made) is ``invalid_token``, whatever its
signature; the signature cache gives back claims, never a verdict on the session."""

import uuid
from datetime import timedelta

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
