"""Accounts people control: log out, password change, sign out everywhere, display name,
account deletion. A token is valid only while its login session is: every route reads
the session on every use, so a revoked token is refused at once, on every instance, even
right after it succeeded (the token's signature is cached, its session never is)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest

from tests.api import PASSWORD, Api, User, problem
from tests.services import SECRET, Backend, Server, start_server

ME = "/api/v1/me"
LOGOUT = "/api/v1/auth/logout"
EVENTS = "/api/v1/events"
NEW_PASSWORD = "a brand new passphrase"


async def login(api: Api, email: str, password: str = PASSWORD) -> httpx.Response:
    return await api.client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )


async def second_session(api: Api, user: User) -> User:
    """The same account, logged in again (another device): its own session and token."""
    r = await login(api, user.email)
    assert r.status_code == 200, r.text
    return User(user.id, user.email, r.json()["access_token"])


async def refused(api: Api, user: User, code: str = "session_revoked") -> None:
    problem(await api.client.get(ME, headers=user.auth), 401, code)


async def test_logout_refuses_the_token_right_after_it_succeeded(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    assert (await api.client.get(ME, headers=owner.auth)).status_code == 200  # cache warm
    assert (await api.client.get(f"{EVENTS}/{event}", headers=owner.auth)).status_code == 200

    r = await api.client.post(LOGOUT, headers=owner.auth)

    assert r.status_code == 204, r.text
    await refused(api, owner)
    vote = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
    problem(vote, 401, "session_revoked")  # the folded access query
    problem(await api.client.post(EVENTS, json={"title": "t"}, headers=owner.auth), 401)
    problem(await api.client.post(LOGOUT, headers=owner.auth), 401, "session_revoked")
    again = await second_session(api, owner)  # logging in again works
    assert (await api.client.get(ME, headers=again.auth)).status_code == 200
    detail = await api.get_proposal(again, event, proposal)
    assert detail["vote_count"] == 0


async def test_logout_ends_only_this_session(api: Api) -> None:
    laptop = await api.user("two-devices")
    phone = await second_session(api, laptop)
    assert (await api.client.post(LOGOUT, headers=phone.auth)).status_code == 204
    await refused(api, phone)
    assert (await api.client.get(ME, headers=laptop.auth)).status_code == 200


async def test_a_revoked_session_opens_no_stream_by_bearer_or_ticket(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    tickets = f"{EVENTS}/{event}/stream-tickets"
    ticket = (await api.client.post(tickets, headers=owner.auth)).json()["ticket"]
    assert (await api.client.post(LOGOUT, headers=owner.auth)).status_code == 204

    for url, headers in [
        (f"{EVENTS}/{event}/stream?ticket={ticket}", {}),
        (f"{EVENTS}/{event}/stream", owner.auth),
    ]:
        async with api.client.stream("GET", url, headers=headers) as r:
            await r.aread()
            problem(r, 401, "session_revoked")
    problem(await api.client.post(tickets, headers=owner.auth), 401, "session_revoked")


async def test_a_revoked_token_replays_no_idempotent_response(api: Api) -> None:
    owner = await api.user("owner")
    keyed = {**owner.auth, "Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await api.client.post(EVENTS, json={"title": "once"}, headers=keyed)
    assert first.status_code == 201, first.text
    assert (await api.client.post(LOGOUT, headers=owner.auth)).status_code == 204

    retry = await api.client.post(EVENTS, json={"title": "once"}, headers=keyed)

    problem(retry, 401, "session_revoked")
    assert "Idempotent-Replayed" not in retry.headers


async def test_a_token_without_a_session_id_is_invalid(api: Api) -> None:
    """Tokens issued before sessions existed carry no ``sid``: refused, log in again."""
    user = await api.user("old-token")
    now = datetime.now(UTC)
    claims = {"sub": user.id, "aud": "quorum:api", "iat": now, "exp": now + timedelta(minutes=5)}
    old = jwt.encode(claims, SECRET, algorithm="HS256")
    r = await api.client.get(ME, headers={"Authorization": f"Bearer {old}"})
    problem(r, 401, "invalid_token")


async def test_password_change_keeps_this_token_and_ends_the_others(api: Api) -> None:
    owner = await api.user("owner")
    other = await second_session(api, owner)
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    r = await api.client.post(f"{ME}/password", json=change, headers=owner.auth)

    assert r.status_code == 204, r.text
    assert (await api.client.get(ME, headers=owner.auth)).status_code == 200
    vote = await api.client.post(api.vote_url(event, proposal), headers=owner.auth)
    assert vote.status_code == 201, vote.text
    await refused(api, other)
    problem(await api.client.get(f"{EVENTS}/{event}", headers=other.auth), 401, "session_revoked")
    problem(await login(api, owner.email), 401, "invalid_credentials")
    assert (await login(api, owner.email, NEW_PASSWORD)).status_code == 200


async def test_a_wrong_current_password_changes_nothing(api: Api) -> None:
    owner = await api.user("owner")
    other = await second_session(api, owner)
    change = {"current_password": "not my password", "new_password": NEW_PASSWORD}

    r = await api.client.post(f"{ME}/password", json=change, headers=owner.auth)

    problem(r, 403, "wrong_password")
    assert (await api.client.get(ME, headers=other.auth)).status_code == 200
    assert (await login(api, owner.email)).status_code == 200
    short = {"current_password": PASSWORD, "new_password": "short"}
    problem(await api.client.post(f"{ME}/password", json=short, headers=owner.auth), 422)


async def test_of_two_concurrent_password_changes_exactly_one_wins(api: Api) -> None:
    """Both verify the same current password; the write is conditional on the hash they
    verified, so the second finds it changed (403), or finds its session ended by the
    first (401): never two passwords each believed to be the one."""
    laptop = await api.user("racer")
    phone = await second_session(api, laptop)
    passwords = {"laptop": "laptop passphrase", "phone": "phone passphrase"}
    changes = [
        api.client.post(
            f"{ME}/password",
            json={"current_password": PASSWORD, "new_password": passwords[name]},
            headers=device.auth,
        )
        for name, device in (("laptop", laptop), ("phone", phone))
    ]

    laptop_r, phone_r = await asyncio.gather(*changes)

    outcomes = {"laptop": laptop_r, "phone": phone_r}
    winners = [name for name, r in outcomes.items() if r.status_code == 204]
    assert len(winners) == 1, {name: r.text for name, r in outcomes.items()}
    loser = outcomes["phone" if winners == ["laptop"] else "laptop"]
    assert (loser.status_code, loser.json()["code"]) in {
        (403, "wrong_password"),
        (401, "session_revoked"),
    }, loser.text
    assert (await login(api, laptop.email, passwords[winners[0]])).status_code == 200
    for other in [PASSWORD, *(p for n, p in passwords.items() if n != winners[0])]:
        problem(await login(api, laptop.email, other), 401, "invalid_credentials")


async def test_sign_out_everywhere_ends_every_session(api: Api) -> None:
    owner = await api.user("owner")
    other = await second_session(api, owner)
    event = await api.event(owner)

    r = await api.client.post(f"{ME}/sessions/revoke", headers=owner.auth)

    assert r.status_code == 204, r.text
    for user in (owner, other):
        await refused(api, user)
        problem(await api.client.get(f"{EVENTS}/{event}", headers=user.auth), 401)
    assert (await login(api, owner.email)).status_code == 200


async def test_display_name_change_shows_everywhere(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    await api.comment(owner, event, proposal, "hello")

    r = await api.client.patch(ME, json={"display_name": "  Ada L.  "}, headers=owner.auth)

    assert r.status_code == 200, r.text
    assert r.json()["display_name"] == "Ada L."
    assert (await api.client.get(ME, headers=owner.auth)).json()["display_name"] == "Ada L."
    comments = await api.client.get(
        f"{EVENTS}/{event}/proposals/{proposal}/comments", headers=owner.auth
    )
    assert [c["author"]["display_name"] for c in comments.json()["items"]] == ["Ada L."]
    for bad in ({"display_name": "   "}, {"display_name": "x" * 101}, {}, {"email": "a@b.c"}):
        problem(await api.client.patch(ME, json=bad, headers=owner.auth), 422)


async def test_account_deletion_keeps_the_history_and_frees_the_email(api: Api) -> None:
    owner = await api.user("owner")
    gone = await api.user("gone")
    event = await api.event(owner, members=[gone])
    own_event = await api.event(gone, members=[owner])  # gone organizes this one
    proposal = await api.proposal(gone, event)
    await api.comment(gone, event, proposal, "my two cents")
    assert (
        await api.client.post(api.vote_url(event, proposal), headers=gone.auth)
    ).status_code == 201
    other_device = await second_session(api, gone)
    url = f"{EVENTS}/{event}"

    wrong = await api.client.request("DELETE", ME, json={"password": "nope"}, headers=gone.auth)
    problem(wrong, 403, "wrong_password")
    r = await api.client.request("DELETE", ME, json={"password": PASSWORD}, headers=gone.auth)

    assert r.status_code == 204, r.text
    problem(await login(api, gone.email), 401, "invalid_credentials")
    for token in (gone, other_device):
        await refused(api, token, "user_not_found")
        problem(await api.client.get(url, headers=token.auth), 401, "user_not_found")
    kept = await api.get_proposal(owner, event, proposal)
    assert (kept["author"], kept["vote_count"]) == (
        {"id": gone.id, "display_name": "deleted user"},
        0,  # a vote on a PENDING proposal goes with the membership (test_removal_votes.py)
    )
    comments = (
        await api.client.get(f"{url}/proposals/{proposal}/comments", headers=owner.auth)
    ).json()
    assert [c["author"] for c in comments["items"]] == [
        {"id": gone.id, "display_name": "deleted user"}
    ]
    members = (await api.client.get(f"{url}/memberships", headers=owner.auth)).json()["items"]
    assert gone.id not in {m["user_id"] for m in members}
    organized = (
        await api.client.get(f"{EVENTS}/{own_event}/memberships", headers=owner.auth)
    ).json()
    assert [(m["user_id"], m["role"]) for m in organized["items"] if m["user_id"] == gone.id] == [
        (gone.id, "ORGANIZER")
    ]
    again = await api.client.post(
        "/api/v1/auth/register",
        json={"email": gone.email, "password": PASSWORD, "display_name": "back"},
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] != gone.id
    assert (await login(api, gone.email)).status_code == 200


# -- two instances ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Another server process on the same database (no Redis: nothing shared but it)."""
    server = start_server(backend, tmp_path_factory.mktemp("second"))
    yield server
    server.stop()


@pytest.fixture
async def other_api(second_server: Server) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=second_server.url, timeout=60) as client:
        yield Api(client)


@pytest.mark.slow
async def test_a_revoked_token_is_refused_by_every_instance(api: Api, other_api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    for instance in (api, other_api):  # both have verified (and cached) the token
        assert (await instance.client.get(ME, headers=owner.auth)).status_code == 200
        r = await instance.client.get(f"{EVENTS}/{event}", headers=owner.auth)
        assert r.status_code == 200, r.text

    assert (await api.client.post(LOGOUT, headers=owner.auth)).status_code == 204

    for instance in (other_api, api):
        await refused(instance, owner)
        vote = await instance.client.post(instance.vote_url(event, proposal), headers=owner.auth)
        problem(vote, 401, "session_revoked")
