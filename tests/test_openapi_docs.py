"""The OpenAPI description documents each operation truthfully: what it does, the error
statuses it can answer (and no others), and for each of them the ``code`` values with a
problem+json example. tests/test_openapi_fuzz.py checks the statuses against a real
server; this checks that the description says enough to be useful."""

import ast
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api import PROBLEM_JSON
from tests.services import ROOT

METHODS = {"get", "post", "put", "patch", "delete"}
DOMAIN_ERRORS = {
    "InvalidInput",
    "Unauthenticated",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "Gone",
    "TooManyRequests",
    "Unavailable",
}
VOTES = "/api/v1/events/{event_id}/proposals/{proposal_id}/votes"


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def codes(operation: dict[str, Any], status: int) -> set[str]:
    """The ``code`` of every problem example documented for ``status``."""
    response = operation["responses"].get(str(status))
    if response is None:
        return set()
    examples = response["content"][PROBLEM_JSON].get("examples", {})
    return {example["value"]["code"] for example in examples.values()}


def op(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(operations(spec))[name]


async def test_every_operation_says_what_it_does(openapi: dict[str, Any]) -> None:
    undescribed = [
        name
        for name, operation in operations(openapi)
        if not operation.get("summary") or not operation.get("description", "").strip()
    ]
    assert undescribed == []


async def test_every_error_status_has_problem_examples_with_codes(openapi: dict[str, Any]) -> None:
    for name, operation in operations(openapi):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            content = response.get("content", {})
            assert list(content) == [PROBLEM_JSON], (name, status, content)
            examples = content[PROBLEM_JSON].get("examples", {})
            assert examples, (name, status)
            for example in examples.values():
                body = example["value"]
                assert body["status"] == int(status), (name, status, body)
                assert body["type"] == f"urn:quorum:problem:{body['code']}"
                assert body["detail"], body
                assert f"`{body['code']}`" in response["description"], (name, status)


async def test_operations_list_only_errors_they_can_give(openapi: dict[str, Any]) -> None:
    register = op(openapi, "POST /api/v1/auth/register")["responses"]
    assert not {"401", "403", "404"} & register.keys(), sorted(register)
    assert codes(op(openapi, "POST /api/v1/auth/register"), 409) == {"email_taken"}
    me = op(openapi, "GET /api/v1/me")["responses"]
    assert sorted(me) == ["200", "401", "503"]
    assert "403" not in op(openapi, "GET /api/v1/events")["responses"]  # no membership asked
    assert "409" not in op(openapi, "GET /api/v1/events/{event_id}")["responses"]
    assert list(op(openapi, "GET /healthz")["responses"]) == ["200"]


async def test_spot_checks(openapi: dict[str, Any]) -> None:
    vote = op(openapi, f"POST {VOTES}")
    assert {"already_voted", "proposal_not_pending", "event_closed"} <= codes(vote, 409)
    assert codes(vote, 403) == {"not_a_member", "csrf_failed"}
    assert {"event_not_found", "proposal_not_found"} <= codes(vote, 404)
    assert {
        "not_authenticated",
        "invalid_token",
        "token_expired",
        "user_not_found",
        "session_revoked",
    } == codes(vote, 401)
    assert "validation_error" in codes(vote, 422)
    assert "requestBody" not in vote

    withdraw = op(openapi, f"DELETE {VOTES}/me")
    assert "vote_not_found" in codes(withdraw, 404)
    assert "already_voted" not in codes(withdraw, 409)

    admin = op(openapi, "PATCH /api/v1/events/{event_id}/memberships/{membership_id}")
    assert {"not_a_member", "admin_required", "organizer_membership_fixed"} <= codes(admin, 403)
    assert "membership_already_decided" in codes(admin, 409)

    login = op(openapi, "POST /api/v1/auth/token")
    assert codes(login, 401) == {"invalid_credentials"}
    assert "rate_limited" in codes(login, 429)
    (example,) = login["responses"]["422"]["content"][PROBLEM_JSON]["examples"].values()
    assert "application/x-www-form-urlencoded" in example["value"]["detail"]

    stream = op(openapi, "GET /api/v1/events/{event_id}/stream")
    assert "too_many_streams" in codes(stream, 429)
    assert "ticket_wrong_event" in codes(stream, 403)


async def test_every_change_made_with_the_session_cookie_documents_csrf_failed(
    openapi: dict[str, Any],
) -> None:
    """Whatever accepts the caller's credentials (and so the page's session cookie) and
    changes something can answer 403 ``csrf_failed``; reads never do."""
    browser_session = {"POST /api/v1/auth/session", "DELETE /api/v1/auth/session"}
    for name, operation in operations(openapi):
        authenticated = "not_authenticated" in codes(operation, 401) or name in browser_session
        mutating = not name.startswith("GET ")
        assert ("csrf_failed" in codes(operation, 403)) == (authenticated and mutating), name
    assert "403" not in op(openapi, "POST /api/v1/auth/token")["responses"]


def raised_codes() -> Iterator[tuple[str, str]]:
    """Every literal code in quorum/: ``raise Conflict("already_voted", ...)`` and
    ``problem(409, "code", ...)``."""
    for path in sorted((ROOT / "quorum").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            args = node.args
            if name == "problem" and len(args) > 1:
                args = args[1:]
            elif name not in DOMAIN_ERRORS:
                continue
            if isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                yield args[0].value, f"{path.relative_to(ROOT)}:{node.lineno}"


async def test_every_code_the_source_raises_is_documented(openapi: dict[str, Any]) -> None:
    documented = {
        code
        for _, operation in operations(openapi)
        for status in operation["responses"]
        if int(status) >= 400
        for code in codes(operation, int(status))
    }
    found = dict(raised_codes())
    assert len(found) > 20  # the scan still finds them
    documented.add("internal_error")  # a 500 is a bug, never a documented answer
    undocumented = {code: where for code, where in found.items() if code not in documented}
    assert undocumented == {}
