"""Bad input tried for real: schemathesis generates requests from the app's own OpenAPI
description, valid and invalid, and sends them to a real server on each backend.

Every response must be no 5xx, have a documented status, content type and headers,
match the documented schema, and refuse what the schema says is invalid. Requests are
authenticated, and most generated ids are swapped for those of a real event, proposal
and membership, so that routes get past the 404 and exercise their bodies, queries and
state rules. The live streams (SSE, WebSocket) are left out: a generated request would
hold a stream open.
"""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from quorum.app import create_app
from quorum.settings import Settings
from tests.api import PASSWORD, Api, problem
from tests.services import SECRET, Server

pytestmark = pytest.mark.slow  # a scenario of its own: real processes, seconds each

# Every check of a single call but ``positive_data_acceptance``: the server applies
# rules a JSON Schema does not express (an opaque cursor it issued, "at least one field
# to change", an email domain that can receive mail), and refuses those with a 422.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
    unsupported_method,
    allow_header_conformance,
]

# The schema comes from the app in this process, so that the operations are known when
# the tests are collected; a test below checks that the server serves the same one.
# (Loading it lazily from the server with ``schemathesis.pytest.from_fixture`` fails on
# pytest 9.2, which no longer has the ``Node._nodeid`` that schemathesis 4.32 rewrites.)
OPENAPI = create_app(Settings(secret_key=SECRET, data_dir=Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI).exclude(path_regex=r"/(stream|ws)$")
# Unknown query parameters are ignored, as HTTP APIs commonly do (unknown body fields
# are refused): do not send them as examples of invalid input.
schema.config.generation.update(allow_extra_parameters=False)

# The ids of the real event, proposal and membership on the server under test.
REAL_IDS: dict[str, str] = {}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(client: httpx.Client, url: str, token: str, **body: Any) -> str:
    r = client.post(url, json=body or None, headers=_auth(token))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _user(client: httpx.Client, name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": name}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    return str(r.json()["access_token"])


def _new_proposal(client: httpx.Client, token: str) -> None:
    url = f"/api/v1/events/{REAL_IDS['event_id']}/proposals"
    REAL_IDS["proposal_id"] = _create(client, url, token, kind="CRITERIA", title="P")
    _create(client, f"{url}/{REAL_IDS['proposal_id']}/comments", token, body="c")


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    """An organizer's access token. Their event, a proposal with a comment, and another
    user's pending membership request are in REAL_IDS."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        owner, member = _user(client, "fuzz-owner"), _user(client, "fuzz-member")
        REAL_IDS["event_id"] = _create(client, "/api/v1/events", owner, title="F", vote_threshold=5)
        _new_proposal(client, owner)
        url = f"/api/v1/events/{REAL_IDS['event_id']}/memberships"
        REAL_IDS["membership_id"] = _create(client, url, member)
    return owner


def _use_real_ids(case: schemathesis.Case) -> None:
    """Swap three in four generated ids for real ones. Only well-formed ones: a malformed
    id is an invalid example, which must still be refused. The choice depends on the
    generated value alone, so that Hypothesis can replay a failing example."""
    for name, value in (case.path_parameters or {}).items():
        try:
            generated = uuid.UUID(str(value))
        except ValueError:
            continue
        if str(generated) != value:  # braces, no hyphens, ...: meant as invalid
            continue
        if name in REAL_IDS and generated.int % 4:
            case.path_parameters[name] = REAL_IDS[name]


def _restore(
    case: schemathesis.Case, response: schemathesis.Response, server: Server, token: str
) -> None:
    """Undo what would stop later examples from reaching the routes: reopen the event,
    and replace a proposal that has been decided."""
    if case.method != "PATCH" or response.status_code != 200:
        return
    with httpx.Client(base_url=server.url, timeout=30) as client:
        if case.path == "/api/v1/events/{event_id}":
            url = f"/api/v1/events/{REAL_IDS['event_id']}"
            r = client.patch(url, json={"status": "OPEN"}, headers=_auth(token))
            assert r.status_code == 200, r.text
        elif case.path == "/api/v1/events/{event_id}/proposals/{proposal_id}":
            _new_proposal(client, token)


# Operations that end the caller's sessions (or account): each example gets a user of
# its own, so that the shared token keeps reaching the other routes.
SESSION_ENDING = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/me/sessions/revoke"),
    ("POST", "/api/v1/me/password"),
    ("DELETE", "/api/v1/me"),
}


def _token_for(case: schemathesis.Case, server: Server, token: str) -> str:
    if (case.method.upper(), case.path) not in SESSION_ENDING:
        return token
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return _user(client, "fuzz-leaver")


def test_the_server_serves_the_schema_under_test(server: Server) -> None:
    assert httpx.get(f"{server.url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case, server: Server, token: str) -> None:
    _use_real_ids(case)
    caller = _token_for(case, server, token)
    response = case.call_and_validate(base_url=server.url, headers=_auth(caller), checks=CHECKS)
    _restore(case, response, server, token)


# --- what the run found, pinned down --------------------------------------------------


async def test_405_names_every_method_of_the_resource(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    r = await api.client.put(f"/api/v1/events/{event}", headers=owner.auth)
    problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, PATCH, DELETE"  # three routes; Starlette named one


async def test_length_limits_apply_to_text_as_sent(api: Api) -> None:
    owner = await api.user()
    event = await api.event(owner)
    url = f"/api/v1/events/{event}/proposals"
    too_long = {"kind": "CRITERIA", "title": " " + "x" * 200}  # 200 once stripped
    problem(await api.client.post(url, json=too_long, headers=owner.auth), 422)
    r = await api.client.post(url, json={"kind": "CRITERIA", "title": "  x  "}, headers=owner.auth)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "x"
