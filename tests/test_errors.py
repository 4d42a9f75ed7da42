"""Bad input gets a clear RFC 9457 problem with a stable code, never a 500."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.api import Api, User, problem

EVENTS = "/api/v1/events"
MIB = 1024 * 1024


async def owner_event_proposal(api: Api) -> tuple[User, str, str]:
    owner = await api.user("owner")
    event = await api.event(owner)
    return owner, event, await api.proposal(owner, event)


async def event_count(api: Api, user: User) -> int:
    r = await api.client.get(EVENTS, params={"limit": 100}, headers=user.auth)
    return len(r.json()["items"])


# -- malformed and mistyped bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b'{"title": ', b"{'title': 'single quotes'}", b'{"title": "x",}', b"not json"]
)
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    owner = await api.user("owner")

    r = await api.client.post(
        EVENTS, content=raw, headers={**owner.auth, "Content-Type": "application/json"}
    )

    problem(r, 400, "malformed_json")
    assert await event_count(api, owner) == 0


async def test_body_that_is_not_utf8_is_400(api: Api) -> None:
    owner = await api.user("owner")
    r = await api.client.post(
        EVENTS,
        content=b'{"title": "\xff\xfe"}',
        headers={**owner.auth, "Content-Type": "application/json"},
    )
    problem(r, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 123}, "title"),
        ({"title": ["a"]}, "title"),
        ({"title": "t", "vote_threshold": "three"}, "vote_threshold"),
        ({"title": "t", "vote_threshold": 1.5}, "vote_threshold"),
        ({"title": "t", "vote_threshold": True}, "vote_threshold"),
        ({"title": "t", "description": {"a": 1}}, "description"),
    ],
)
async def test_wrong_types_are_422_with_the_field_named(
    api: Api, body: dict[str, Any], field: str
) -> None:
    owner = await api.user("owner")

    r = await api.client.post(EVENTS, json=body, headers=owner.auth)

    errors = problem(r, 422, "validation_error")["errors"]
    assert isinstance(errors, list) and errors
    assert all({"loc", "msg", "type"} <= e.keys() for e in errors)
    assert any(e["loc"][-1] == field or field in e["loc"] for e in errors), errors


@pytest.mark.parametrize("body", [[], ["title"], "title", 42, None])
async def test_a_body_that_is_not_an_object_is_422(api: Api, body: Any) -> None:
    owner = await api.user("owner")
    r = await api.client.post(EVENTS, json=body, headers=owner.auth)
    assert problem(r, 422, "validation_error")["errors"]


async def test_a_missing_body_is_422(api: Api) -> None:
    owner = await api.user("owner")
    r = await api.client.post(EVENTS, headers=owner.auth)
    assert problem(r, 422, "validation_error")["errors"]


# -- sizes ----------------------------------------------------------------------------------


async def test_event_strings_are_capped(api: Api) -> None:
    owner = await api.user("owner")
    for body in (
        {"title": "t" * 201},
        {"title": "t", "description": "d" * 5001},
        {"title": "t", "vote_threshold": 10**30},
    ):
        problem(await api.client.post(EVENTS, json=body, headers=owner.auth), 422)
    assert await event_count(api, owner) == 0

    at_limit = {"title": "t" * 200, "description": "d" * 5000}
    r = await api.client.post(EVENTS, json=at_limit, headers=owner.auth)
    assert r.status_code == 201, r.text
    event = r.json()["id"]
    for body in ({"title": "t" * 201}, {"description": "d" * 5001}):
        r = await api.client.patch(f"{EVENTS}/{event}", json=body, headers=owner.auth)
        problem(r, 422, "validation_error")


async def test_proposal_strings_are_capped(api: Api) -> None:
    owner = await api.user("owner")
    event = await api.event(owner)
    url = f"{EVENTS}/{event}/proposals"
    for body in (
        {"kind": "CRITERIA", "title": "t" * 201},
        {"kind": "CRITERIA", "title": "t", "body": "b" * 10_001},
    ):
        problem(await api.client.post(url, json=body, headers=owner.auth), 422, "validation_error")
    at_limit = {"kind": "CRITERIA", "title": "t" * 200, "body": "b" * 10_000}
    assert (await api.client.post(url, json=at_limit, headers=owner.auth)).status_code == 201


async def test_comments_are_capped(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    url = f"{EVENTS}/{event}/proposals/{proposal}/comments"

    r = await api.client.post(url, json={"body": "c" * 5001}, headers=owner.auth)

    problem(r, 422, "validation_error")
    r = await api.client.post(url, json={"body": "c" * 5000}, headers=owner.auth)
    assert r.status_code == 201, r.text


async def test_oversized_body_with_content_length_is_413(api: Api) -> None:
    owner = await api.user("owner")
    body = b'{"title": "' + b"x" * MIB + b'"}'

    r = await api.client.post(
        EVENTS, content=body, headers={**owner.auth, "Content-Type": "application/json"}
    )

    problem(r, 413, "body_too_large")
    assert await event_count(api, owner) == 0


async def test_oversized_chunked_body_is_413(api: Api) -> None:
    owner = await api.user("owner")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 64 * 1024
        yield b'"}'

    r = await api.client.post(
        EVENTS, content=chunks(), headers={**owner.auth, "Content-Type": "application/json"}
    )

    assert "content-length" not in r.request.headers
    problem(r, 413, "body_too_large")
    assert await event_count(api, owner) == 0


async def test_a_body_just_under_the_cap_is_read(api: Api) -> None:
    owner = await api.user("owner")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "t", "description": "'
        yield b"d" * (MIB - 100)
        yield b'"}'

    r = await api.client.post(
        EVENTS, content=chunks(), headers={**owner.auth, "Content-Type": "application/json"}
    )

    problem(r, 422, "validation_error")  # read whole, then refused for its length


# -- routes and methods ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/events", "/nothing-here"])
async def test_unknown_route_is_404(api: Api, path: str) -> None:
    user = await api.user()
    problem(await api.client.get(path, headers=user.auth), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", EVENTS), ("PUT", EVENTS), ("GET", "/api/v1/auth/register"), ("POST", "/api/v1/me")],
)
async def test_wrong_method_is_405(api: Api, method: str, path: str) -> None:
    user = await api.user()
    r = await api.client.request(method, path, headers=user.auth)
    problem(r, 405, "method_not_allowed")
    assert r.headers.get("allow")


async def test_non_uuid_path_ids_are_422(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    auth = owner.auth
    for r in (
        await api.client.get(f"{EVENTS}/not-a-uuid", headers=auth),
        await api.client.get(f"{EVENTS}/123/proposals", headers=auth),
        await api.client.patch(f"{EVENTS}/x", json={"title": "t"}, headers=auth),
        await api.client.post(f"{EVENTS}/x/memberships", headers=auth),
        await api.client.post(f"{EVENTS}/{event}/proposals/nope/votes", headers=auth),
    ):
        errors = problem(r, 422, "validation_error")["errors"]
        assert any(e["loc"][0] == "path" for e in errors), errors
    # A membership is named by its UUID or by ``me`` (the caller's own), a proposal by its
    # UUID or ``similar`` (the search): anything else names no resource, so that PATCH
    # .../memberships/me and .../proposals/similar are 405s, not 422s.
    r = await api.client.patch(
        f"{EVENTS}/{event}/memberships/nope", json={"status": "APPROVED"}, headers=auth
    )
    problem(r, 404, "not_found")
    problem(await api.client.get(f"{EVENTS}/{event}/proposals/42", headers=auth), 404, "not_found")
    r = await api.client.patch(f"{EVENTS}/{event}/proposals/similar", json={}, headers=auth)
    problem(r, 405, "method_not_allowed")
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 0


# -- unknown fields and values ----------------------------------------------------------------


async def test_unknown_fields_are_422(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    base = f"{EVENTS}/{event}"
    for method, url, body in (
        ("POST", EVENTS, {"title": "t", "organizer_id": owner.id}),
        ("PATCH", base, {"last_seq": 99}),
        ("POST", f"{base}/proposals", {"kind": "CRITERIA", "title": "t", "status": "ACCEPTED"}),
        ("PATCH", f"{base}/proposals/{proposal}", {"status": "ACCEPTED", "decided_by": "auto"}),
        ("POST", f"{base}/proposals/{proposal}/comments", {"body": "b", "author_id": owner.id}),
    ):
        r = await api.client.request(method, url, json=body, headers=owner.auth)
        errors = problem(r, 422, "validation_error")["errors"]
        assert any(e["type"] == "extra_forbidden" for e in errors), errors
    r = await api.client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.com", "password": "p" * 8, "display_name": "x", "admin": True},
    )
    problem(r, 422, "validation_error")
    assert (await api.get_proposal(owner, event, proposal))["status"] == "PENDING"


async def test_unknown_enum_values_are_422(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    base = f"{EVENTS}/{event}"
    for method, url, body in (
        ("POST", f"{base}/proposals", {"kind": "OPINION", "title": "t"}),
        ("PATCH", base, {"status": "ARCHIVED"}),
        ("PATCH", f"{base}/proposals/{proposal}", {"status": "MAYBE"}),
    ):
        r = await api.client.request(method, url, json=body, headers=owner.auth)
        errors = problem(r, 422, "validation_error")["errors"]
        assert any(e["type"] == "enum" or e["type"] == "literal_error" for e in errors), errors
    for url, params in ((EVENTS, {"status": "ARCHIVED"}), (f"{base}/proposals", {"kind": "X"})):
        r = await api.client.get(url, params=params, headers=owner.auth)
        problem(r, 422, "validation_error")


# -- characters the database cannot store ----------------------------------------------------


async def test_nul_characters_are_refused_not_500(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    base = f"{EVENTS}/{event}"
    for method, url, body in (
        ("POST", EVENTS, {"title": "a\x00b"}),
        ("PATCH", base, {"description": "a\x00b"}),
        ("POST", f"{base}/proposals", {"kind": "CRITERIA", "title": "t", "body": "\x00"}),
        ("POST", f"{base}/proposals/{proposal}/comments", {"body": "nul\x00"}),
    ):
        r = await api.client.request(method, url, json=body, headers=owner.auth)
        problem(r, 422, "validation_error")
    r = await api.client.post(
        "/api/v1/auth/register",
        json={
            "email": f"{uuid.uuid4().hex}@example.com",
            "password": "p" * 8,
            "display_name": "\0",
        },
    )
    problem(r, 422, "validation_error")
    r = await api.client.get(EVENTS, params={"q": "a\x00"}, headers=owner.auth)
    problem(r, 422, "validation_error")


async def test_deeply_nested_json_is_400_not_500(api: Api) -> None:
    owner = await api.user("owner")
    r = await api.client.post(
        EVENTS,
        content=b"[" * 200_000 + b"]" * 200_000,
        headers={**owner.auth, "Content-Type": "application/json"},
    )
    problem(r, 400, "malformed_json")


# -- bodies where none is taken ------------------------------------------------------------


async def test_a_vote_with_a_body_is_422_and_not_counted(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    url = api.vote_url(event, proposal)

    for content, content_type in (
        (b'{"value": -1}', "application/json"),
        (b'{"value": -1}', None),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (b"-1", "text/plain"),
        (b"{" * 10_000, "application/json"),
    ):
        headers = {**owner.auth, **({"Content-Type": content_type} if content_type else {})}
        r = await api.client.post(url, content=content, headers=headers)
        errors = problem(r, 422, "validation_error")["errors"]
        assert [e["loc"] for e in errors] == [["body"]], errors

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"value":'
        yield b" -1}"

    r = await api.client.post(url, content=chunks(), headers=owner.auth)
    assert "content-length" not in r.request.headers
    problem(r, 422, "validation_error")
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 0


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {}),
        (b"{}", {"Content-Type": "application/json"}),
        (b" { }\n", {"Content-Type": "application/json"}),
    ],
    ids=["empty", "empty-object", "empty-object-spaced"],
)
async def test_a_vote_with_no_body_or_an_empty_object_counts(
    api: Api, content: bytes, headers: dict[str, str]
) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    r = await api.client.post(
        api.vote_url(event, proposal), content=content, headers={**owner.auth, **headers}
    )
    assert r.status_code == 201, r.text
    assert r.json()["proposal"]["vote_count"] == 1


async def test_every_bodyless_mutating_route_refuses_a_body(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    joiner = await api.user("joiner")
    vote = api.vote_url(event, proposal)
    assert (await api.client.post(vote, headers=owner.auth)).status_code == 201
    body = {"role": "ADMIN"}
    for method, url, user in (
        ("DELETE", f"{vote}/me", owner),
        ("POST", f"{EVENTS}/{event}/stream-tickets", owner),
        ("POST", f"{EVENTS}/{event}/memberships", joiner),
    ):
        r = await api.client.request(method, url, json=body, headers=user.auth)
        problem(r, 422, "validation_error")
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1
    r = await api.client.get(f"{EVENTS}/{event}/memberships", headers=owner.auth)
    assert [m["user_id"] for m in r.json()["items"]] == [owner.id]  # no request was made


async def test_a_chunked_empty_object_is_no_body_and_replays_by_key(api: Api) -> None:
    owner, event, proposal = await owner_event_proposal(api)
    headers = {**owner.auth, "Content-Type": "application/json", "Idempotency-Key": "chunked"}

    async def chunks() -> AsyncIterator[bytes]:
        yield b"{"
        yield b" }"

    first = await api.client.post(api.vote_url(event, proposal), content=chunks(), headers=headers)
    again = await api.client.post(api.vote_url(event, proposal), content=chunks(), headers=headers)

    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert (await api.get_proposal(owner, event, proposal))["vote_count"] == 1
