"""Accounts over HTTP: registering, logging in, and who the token says you are."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.api import PASSWORD, Api, problem
from tests.services import SECRET

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"


def unique_email(name: str = "someone") -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}@Example.COM"


async def register(client: httpx.AsyncClient, email: str, **overrides: str) -> httpx.Response:
    body = {"email": email, "password": PASSWORD, "display_name": "Someone", **overrides}
    return await client.post(REGISTER, json=body)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_returns_the_user_with_the_email_lower_cased(
    client: httpx.AsyncClient,
) -> None:
    email = unique_email()

    r = await register(client, email, display_name="  Ada Lovelace  ")

    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == email.lower()
    assert user["display_name"] == "Ada Lovelace"
    assert uuid.UUID(user["id"])
    assert "password" not in r.text and "hash" not in r.text
    assert user.keys() == {"id", "email", "display_name", "created_at"}


async def test_login_then_me_returns_the_same_user(client: httpx.AsyncClient) -> None:
    email = unique_email()
    created = (await register(client, email)).json()

    t = await login(client, email.upper())  # the email matches whatever its case

    assert t.status_code == 200, t.text
    assert t.json()["token_type"] == "bearer"
    assert t.json()["expires_in"] > 0
    me = await client.get(ME, headers=bearer(t.json()["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == created


@pytest.mark.parametrize("variant", ["strip", "lower", "upper", "swapcase"])
async def test_duplicate_email_in_any_case_is_409(client: httpx.AsyncClient, variant: str) -> None:
    email = unique_email()  # mixed case: "...@Example.COM"
    assert (await register(client, email)).status_code == 201

    again = await register(client, getattr(email, variant)())

    problem(again, 409, "email_taken")


@pytest.mark.parametrize(
    "overrides",
    [
        {"password": "short7!"},  # 7 characters: one below the minimum
        {"password": ""},
        {"password": "x" * 129},
        {"email": "not-an-email"},
        {"email": "missing-domain@"},
        {"email": "two@@example.com"},
        {"display_name": "   "},
        {"display_name": "n" * 101},
    ],
)
async def test_bad_registration_input_is_422(
    client: httpx.AsyncClient, overrides: dict[str, str]
) -> None:
    email = unique_email()

    r = await register(client, **{"email": email, **overrides})

    body = problem(r, 422, "validation_error")
    assert body["errors"], body
    if "email" not in overrides:  # nothing was stored: the email is still free
        assert (await register(client, email)).status_code == 201


async def test_password_of_exactly_eight_characters_is_accepted(client: httpx.AsyncClient) -> None:
    r = await register(client, unique_email(), password="eight888")
    assert r.status_code == 201, r.text


async def test_wrong_password_is_401_invalid_credentials(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)

    r = await login(client, email, "wrong password!")

    problem(r, 401, "invalid_credentials")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_unknown_email_is_401_invalid_credentials(client: httpx.AsyncClient) -> None:
    r = await login(client, unique_email("nobody"))
    problem(r, 401, "invalid_credentials")


FORM_HINT = "application/x-www-form-urlencoded"


async def test_token_without_form_fields_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(TOKEN, data={"username": unique_email()})
    body = problem(r, 422, "validation_error")
    assert [e["loc"] for e in body["errors"]] == [["body", "password"]]
    assert FORM_HINT in body["detail"]


async def test_token_sent_as_json_says_to_send_a_form(client: httpx.AsyncClient) -> None:
    email = unique_email()
    await register(client, email)

    r = await client.post(TOKEN, json={"username": email, "password": PASSWORD})

    body = problem(r, 422, "validation_error")
    assert FORM_HINT in body["detail"] and "username=" in body["detail"], body
    assert [e["loc"] for e in body["errors"]] == [["body", "username"], ["body", "password"]]


async def test_me_without_a_token_is_401_not_authenticated(client: httpx.AsyncClient) -> None:
    r = await client.get(ME)
    problem(r, 401, "not_authenticated")
    assert r.headers["www-authenticate"] == "Bearer"


async def test_me_with_another_scheme_is_401_not_authenticated(client: httpx.AsyncClient) -> None:
    r = await client.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    problem(r, 401, "not_authenticated")


def _token(key: str = SECRET, **claims: object) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "aud": "quorum:api",
        "iat": now,
        "exp": now + timedelta(days=1),  # the suite can run long: never expired by then
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b.c",
        _token("another-secret-key-" + "x" * 32),  # forged: signed with the wrong key
        _token(aud="stream"),  # a token minted for another purpose
        _token(sub="not-a-uuid"),
        _token(sub=None),
        _token(exp=None),
    ],
    ids=["garbage", "three-parts", "wrong-key", "wrong-audience", "bad-sub", "no-sub", "no-exp"],
)
async def test_invalid_token_is_401_invalid_token(client: httpx.AsyncClient, token: str) -> None:
    r = await client.get(ME, headers=bearer(token))
    problem(r, 401, "invalid_token")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "soon"},
        {"exp": "4102444800"},  # a number in a string is not a NumericDate
        {"exp": True},
        {"exp": [4_102_444_800]},
        {"exp": {"at": 4_102_444_800}},
        {"exp": float("nan")},  # JSON NaN: never "<= now", so it would never expire
        {"exp": float("inf")},
        {"sub": 42},
        {"sub": True},
        {"sub": ["a"]},
        {"iat": "yesterday"},
        {"nbf": "soon"},
    ],
    ids=lambda claims: ",".join(f"{k}={v!r}" for k, v in claims.items()),
)
async def test_claims_of_the_wrong_type_are_401_invalid_token(
    client: httpx.AsyncClient, claims: dict[str, object]
) -> None:
    """Signed with the real key, so only the claims' types can give them away."""
    r = await client.get(ME, headers=bearer(_token(**claims)))
    problem(r, 401, "invalid_token")


async def test_a_far_future_expiry_is_just_far_away(client: httpx.AsyncClient) -> None:
    """An integer too large for a float (JSON allows it) is still a valid, distant time:
    the token passes, and only the unknown user is refused."""
    r = await client.get(ME, headers=bearer(_token(exp=10**400)))
    problem(r, 401, "user_not_found")


async def test_unsigned_token_is_refused(client: httpx.AsyncClient) -> None:
    unsigned = jwt.encode(
        {"sub": str(uuid.uuid4()), "aud": "quorum:api", "exp": 4_102_444_800},
        key=None,
        algorithm="none",
    )
    problem(await client.get(ME, headers=bearer(unsigned)), 401, "invalid_token")


async def test_a_token_edited_after_signing_is_refused(api: Api) -> None:
    user, other = await api.user("victim"), await api.user("attacker")
    header, _, signature = other.token.split(".")
    claims = jwt.decode(other.token, options={"verify_signature": False})
    claims["sub"] = user.id
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    r = await api.client.get(ME, headers=bearer(f"{header}.{payload}.{signature}"))

    problem(r, 401, "invalid_token")


async def test_expired_token_is_401_token_expired(client: httpx.AsyncClient) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    r = await client.get(ME, headers=bearer(_token(exp=past, iat=past - timedelta(hours=1))))
    problem(r, 401, "token_expired")


async def test_valid_token_of_an_unknown_user_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get(ME, headers=bearer(_token()))
    problem(r, 401, "user_not_found")


async def test_protected_routes_need_a_token(client: httpx.AsyncClient) -> None:
    problem(await client.get("/api/v1/events"), 401, "not_authenticated")
    problem(await client.post("/api/v1/events", json={"title": "x"}), 401, "not_authenticated")


async def test_login_with_a_nul_in_the_email_is_401_not_500(client: httpx.AsyncClient) -> None:
    r = await login(client, "nobody\x00@example.com")
    problem(r, 401, "invalid_credentials")
