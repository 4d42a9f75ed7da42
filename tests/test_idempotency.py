"""Idempotency-Key, one request after another: replays, reuse, scope, failures, expiry.
(Concurrent retries with one key are in test_concurrency.py.)"""

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from quorum.db.base import utcnow
from quorum.idempotency.models import IdempotencyRecord
from tests.api import Api, User, problem
from tests.services import Backend

REPLAYED = "idempotent-replayed"


def new_key() -> str:
    return f"key-{uuid.uuid4()}"


def with_key(user: User, key: str) -> dict[str, str]:
    return {**user.auth, "Idempotency-Key": key}


def assert_replay(first: httpx.Response, again: httpx.Response) -> None:
    assert REPLAYED not in first.headers
    assert again.headers.get(REPLAYED) == "true"
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers.get("content-type") == first.headers.get("content-type")


async def proposal_ids(api: Api, user: User, event: str) -> list[str]:
    r = await api.client.get(f"/api/v1/events/{event}/proposals?limit=100", headers=user.auth)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


async def log_types(api: Api, user: User, event: str) -> list[str]:
    r = await api.client.get(f"/api/v1/events/{event}/log?limit=100", headers=user.auth)
    assert r.status_code == 200, r.text
    return [entry["type"] for entry in r.json()["items"]]


async def age_key(backend: Backend, key: str, by: timedelta) -> None:
    """Make the stored response for ``key`` look ``by`` older, straight in the database."""
    engine = create_async_engine(backend.url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.key == key)
                .values(created_at=utcnow() - by)
            )
            assert result.rowcount == 1
    finally:
        await engine.dispose()


async def create_proposal(
    api: Api, user: User, event: str, key: str, title: str = "Once"
) -> httpx.Response:
    return await api.client.post(
        f"/api/v1/events/{event}/proposals",
        json={"kind": "CRITERIA", "title": title},
        headers=with_key(user, key),
    )


# -- replays ----------------------------------------------------------------------------------


async def test_post_is_replayed_and_runs_once(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()

    first = await create_proposal(api, owner, event, key)
    again = await create_proposal(api, owner, event, key)

    assert first.status_code == 201, first.text
    assert_replay(first, again)
    assert await proposal_ids(api, owner, event) == [first.json()["id"]]
    assert (await log_types(api, owner, event)).count("proposal.created") == 1


async def test_patch_is_replayed_and_runs_once(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    url = f"/api/v1/events/{event}/proposals/{proposal}"
    key = new_key()

    first = await api.client.patch(url, json={"status": "ACCEPTED"}, headers=with_key(owner, key))
    # Run for real, a second decision would be 409 invalid_transition.
    again = await api.client.patch(url, json={"status": "ACCEPTED"}, headers=with_key(owner, key))

    assert first.status_code == 200, first.text
    assert_replay(first, again)
    assert (await log_types(api, owner, event)).count("proposal.updated") == 1
    r = await api.client.patch(url, json={"status": "ACCEPTED"}, headers=owner.auth)
    problem(r, 409, "invalid_transition")


async def test_event_patch_replay_does_not_advance_the_log(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()
    url = f"/api/v1/events/{event}"

    first = await api.client.patch(url, json={"title": "Renamed"}, headers=with_key(owner, key))
    again = await api.client.patch(url, json={"title": "Renamed"}, headers=with_key(owner, key))

    assert first.status_code == 200, first.text
    assert_replay(first, again)
    current = (await api.client.get(url, headers=owner.auth)).json()
    assert current["last_seq"] == first.json()["last_seq"]


async def test_delete_is_replayed_and_runs_once(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    assert (await api.client.post(api.vote_url(event, proposal), headers=owner.auth)).is_success
    url = f"{api.vote_url(event, proposal)}/me"
    key = new_key()

    first = await api.client.delete(url, headers=with_key(owner, key))
    again = await api.client.delete(url, headers=with_key(owner, key))

    assert first.status_code == 204, first.text
    assert_replay(first, again)
    assert again.content == b""
    problem(await api.client.delete(url, headers=owner.auth), 404, "vote_not_found")
    assert (await log_types(api, owner, event)).count("vote.withdrawn") == 1


async def test_a_vote_is_replayed_not_refused(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    key = new_key()

    first = await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key))
    again = await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key))

    assert first.status_code == 201, first.text
    assert_replay(first, again)
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1


async def test_without_a_key_nothing_is_replayed(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    url = f"/api/v1/events/{event}/proposals"
    body = {"kind": "CRITERIA", "title": "Twice"}

    first = await api.client.post(url, json=body, headers=owner.auth)
    second = await api.client.post(url, json=body, headers=owner.auth)

    assert (first.status_code, second.status_code) == (201, 201)
    assert REPLAYED not in second.headers
    assert first.json()["id"] != second.json()["id"]


async def test_safe_methods_ignore_the_key(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()
    url = f"/api/v1/events/{event}/proposals"

    before = await api.client.get(url, headers=with_key(owner, key))
    created = await create_proposal(api, owner, event, key)  # the key is still unused
    after = await api.client.get(url, headers=with_key(owner, key))

    assert REPLAYED not in created.headers and REPLAYED not in after.headers
    assert (len(before.json()["items"]), len(after.json()["items"])) == (0, 1)


# -- reuse and scope ----------------------------------------------------------------------------


async def test_same_key_for_another_request_is_422(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()
    first = await create_proposal(api, owner, event, key, title="First")
    assert first.status_code == 201, first.text

    other_body = await create_proposal(api, owner, event, key, title="Second")
    other_path = await api.client.patch(
        f"/api/v1/events/{event}", json={"title": "x"}, headers=with_key(owner, key)
    )
    other_event = await api.event(owner)
    same_body_other_event = await create_proposal(api, owner, other_event, key, title="First")

    for r in (other_body, other_path, same_body_other_event):
        problem(r, 422, "idempotency_key_reused")
    assert await proposal_ids(api, owner, event) == [first.json()["id"]]
    assert await proposal_ids(api, owner, other_event) == []
    title = (await api.client.get(f"/api/v1/events/{event}", headers=owner.auth)).json()["title"]
    assert title == "An event"


async def test_keys_belong_to_one_user(api: Api) -> None:
    alice, bob = await api.user("alice"), await api.user("bob")
    event = await api.event(alice, members=[bob])
    key = new_key()

    mine = await create_proposal(api, alice, event, key)
    theirs = await create_proposal(api, bob, event, key)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert REPLAYED not in theirs.headers
    assert theirs.json()["author"]["id"] == bob.id != mine.json()["author"]["id"]
    assert sorted(await proposal_ids(api, alice, event)) == sorted(
        [mine.json()["id"], theirs.json()["id"]]
    )
    # Each user's key still replays their own response.
    assert_replay(theirs, await create_proposal(api, bob, event, key))


# -- failures are not stored ------------------------------------------------------------------


async def test_a_failed_request_is_not_stored(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    proposal = await api.proposal(owner, event)
    assert (await api.client.post(api.vote_url(event, proposal), headers=owner.auth)).is_success
    key = new_key()

    refused = await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key))
    problem(refused, 409, "already_voted")
    problem(
        await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key)),
        409,
        "already_voted",
    )
    withdrawn = await api.client.delete(f"{api.vote_url(event, proposal)}/me", headers=owner.auth)
    assert withdrawn.status_code == 204

    retry = await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key))

    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert retry.json()["proposal"]["vote_count"] == 1
    assert_replay(
        retry, await api.client.post(api.vote_url(event, proposal), headers=with_key(owner, key))
    )


async def test_a_request_refused_while_closed_runs_after_reopening(api: Api) -> None:
    owner, joiner = await api.user("owner"), await api.user("joiner")
    event = await api.event(owner)
    url = f"/api/v1/events/{event}"
    assert (await api.client.patch(url, json={"status": "CLOSED"}, headers=owner.auth)).is_success
    key = new_key()

    problem(
        await api.client.post(f"{url}/memberships", headers=with_key(joiner, key)),
        409,
        "event_closed",
    )
    assert (await api.client.patch(url, json={"status": "OPEN"}, headers=owner.auth)).is_success
    retry = await api.client.post(f"{url}/memberships", headers=with_key(joiner, key))

    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert retry.json()["status"] == "PENDING"


async def test_an_invalid_body_does_not_use_up_the_key(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()

    bad = await api.client.post(
        f"/api/v1/events/{event}/proposals",
        json={"kind": "OPINION", "title": "x"},
        headers=with_key(owner, key),
    )
    problem(bad, 422, "validation_error")

    good = await create_proposal(api, owner, event, key)
    assert good.status_code == 201, good.text
    assert REPLAYED not in good.headers


# -- expiry ------------------------------------------------------------------------------------


async def test_an_expired_record_no_longer_replays(api: Api, backend: Backend) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()
    first = await create_proposal(api, owner, event, key)
    assert first.status_code == 201, first.text
    await age_key(backend, key, timedelta(hours=23, minutes=50))
    assert_replay(first, await create_proposal(api, owner, event, key))  # still within 24 h

    await age_key(backend, key, timedelta(hours=24, minutes=1))
    fresh = await create_proposal(api, owner, event, key)

    assert fresh.status_code == 201, fresh.text
    assert REPLAYED not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]
    assert len(await proposal_ids(api, owner, event)) == 2
    # The new response took the old one's place and is what the key replays now.
    assert_replay(fresh, await create_proposal(api, owner, event, key))


async def test_an_expired_key_may_carry_another_request(api: Api, backend: Backend) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    key = new_key()
    assert (await create_proposal(api, owner, event, key, title="Old")).status_code == 201
    await age_key(backend, key, timedelta(days=2))

    other = await create_proposal(api, owner, event, key, title="New")

    assert other.status_code == 201, other.text
    assert other.json()["title"] == "New"


# -- the key itself ----------------------------------------------------------------------------


async def test_key_length_limits(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)

    problem(await create_proposal(api, owner, event, "k" * 256), 422, "invalid_idempotency_key")
    problem(await create_proposal(api, owner, event, ""), 422, "invalid_idempotency_key")
    problem(await create_proposal(api, owner, event, "tab\there"), 422, "invalid_idempotency_key")
    assert await proposal_ids(api, owner, event) == []

    longest = await create_proposal(api, owner, event, "k" * 250 + uuid.uuid4().hex[:5])
    assert longest.status_code == 201, longest.text
