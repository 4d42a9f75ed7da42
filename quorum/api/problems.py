"""Which errors an operation can answer, for its OpenAPI ``responses=``.

Clients branch on a problem's ``code``, so each operation's description lists every
error status it can answer, the codes behind each, and an example body per code. A
route declares them in one expression, ``responses=problems(MEMBER, ALREADY_VOTED,
...)``, from ``Case`` constants: the edge's are here (authentication, bodies,
idempotency, limits, the database), each feature's next to its routes, and groups of
them (``AUTH``, ``JSON_BODY``) stand for what a shared dependency can raise. A status a
route does not name is one it never answers: the schemathesis run in the tests fails
on any other, and a test fails on a code raised in the source but documented nowhere.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from quorum.api.bodyless import DETAIL as NO_BODY_DETAIL
from quorum.api.errors import PROBLEM_JSON, Problem

_SCHEMA = Problem.model_json_schema()
_RETRY_AFTER = {"description": "seconds to wait", "schema": {"type": "integer"}}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "always `Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": _RETRY_AFTER},
    503: {"Retry-After": _RETRY_AFTER},
}


@dataclass(frozen=True)
class Case:
    """One documented error: its status and code, and a realistic body for the example."""

    status: int
    code: str
    detail: str
    name: str = ""  # the example's key, where one code has several examples
    extra: Mapping[str, Any] = field(default_factory=dict)  # more members of the body

    @property
    def key(self) -> str:
        return self.name or self.code

    def example(self) -> dict[str, Any]:
        body = {
            "type": f"urn:quorum:problem:{self.code}",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
            **self.extra,
        }
        return {"summary": self.key, "value": body}


Cases = Case | Iterable["Cases"]


def problems(*cases: Cases) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that can answer these cases (groups are flattened,
    repeats kept once)."""
    by_status: dict[int, dict[str, Case]] = {}
    for case in _flatten(cases):
        by_status.setdefault(case.status, {})[case.key] = case
    return {
        status: _response(status, group.values()) for status, group in sorted(by_status.items())
    }


def add_cases(
    responses: Mapping[int | str, dict[str, Any]], *cases: Cases
) -> dict[int | str, dict[str, Any]]:
    """``responses`` (from ``problems``) with these cases too: what the route class adds
    to every route that can answer them (quorum/api/routing.py)."""
    merged = dict(responses)
    for case in _flatten(cases):
        existing = merged.get(case.status)
        if existing is None:
            merged[case.status] = _response(case.status, [case])
            continue
        content = existing["content"][PROBLEM_JSON]
        if case.key in content["examples"]:
            continue
        examples = {**content["examples"], case.key: case.example()}
        merged[case.status] = {
            **existing,
            "description": f"{existing['description']}\n{_line(case)}",
            "content": {PROBLEM_JSON: {**content, "examples": examples}},
        }
    return dict(sorted(merged.items(), key=lambda item: str(item[0])))  # by status


def _flatten(cases: Iterable[Cases]) -> Iterable[Case]:
    for case in cases:
        if isinstance(case, Case):
            yield case
        else:
            yield from _flatten(case)


def _line(case: Case) -> str:
    return f"- `{case.code}`: {case.detail}"


def _response(status: int, cases: Iterable[Case]) -> dict[str, Any]:
    cases = list(cases)
    lines = "\n".join(_line(case) for case in cases)
    response: dict[str, Any] = {
        "description": f"{HTTPStatus(status).phrase}, with one of these codes:\n\n{lines}",
        "content": {
            PROBLEM_JSON: {
                "schema": _SCHEMA,
                "examples": {case.key: case.example() for case in cases},
            }
        },
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


# -- the edge's cases -------------------------------------------------------------------

MALFORMED_JSON = Case(400, "malformed_json", "The request body is not valid JSON.")
NOT_AUTHENTICATED = Case(
    401, "not_authenticated", "Send an access token: Authorization: Bearer ..."
)
INVALID_TOKEN = Case(401, "invalid_token", "The token is not valid.")
TOKEN_EXPIRED = Case(401, "token_expired", "The token has expired.")
USER_NOT_FOUND = Case(401, "user_not_found", "This account no longer exists.")
SESSION_REVOKED = Case(401, "session_revoked", "This session has ended; log in again.")
BODY_TOO_LARGE = Case(413, "body_too_large", "The body exceeds 1048576 bytes.")
VALIDATION_ERROR = Case(
    422,
    "validation_error",
    "The request failed validation.",
    extra={"errors": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}]},
)
BODY_NOT_ALLOWED = Case(
    422,
    "validation_error",
    NO_BODY_DETAIL,
    name="body_not_allowed",
    extra={"errors": [{"loc": ["body"], "msg": NO_BODY_DETAIL, "type": "body_not_allowed"}]},
)
INVALID_CURSOR = Case(422, "invalid_cursor", "The cursor is not one this API issued.")
CURSOR_SORT_MISMATCH = Case(
    422,
    "cursor_sort_mismatch",
    "This cursor belongs to another order of the list, not sort=most_votes: "
    "ask for the first page again.",
)
IDEMPOTENCY_IN_PROGRESS = Case(
    409, "idempotency_in_progress", "A request with this key is still in progress."
)
IDEMPOTENCY_KEY_REUSED = Case(
    422, "idempotency_key_reused", "This Idempotency-Key was used for another request."
)
INVALID_IDEMPOTENCY_KEY = Case(
    422, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable characters."
)
RATE_LIMITED = Case(429, "rate_limited", "Too many attempts; retry in 42 s.")
TOO_MANY_STREAMS = Case(
    429, "too_many_streams", "You already have 10 streams open; close one first."
)
STREAMS_FULL = Case(
    503, "streams_full", "This server holds all the streams it can; retry in 7 seconds."
)
DATABASE_UNAVAILABLE = Case(
    503, "database_unavailable", "The database cannot be reached right now; retry shortly."
)
STORAGE_UNAVAILABLE = Case(  # the blob store's (quorum/storage), for attachments and reports
    503, "storage_unavailable", "The file store cannot be reached right now; retry shortly."
)
DATABASE_TIMEOUT = Case(
    503,
    "database_timeout",
    "The database did not answer in time (a statement or lock wait over its limit); retry.",
)
CSRF_FAILED = Case(
    403,
    "csrf_failed",
    "A request made with the session cookie must send X-CSRF-Token (the quorum_csrf "
    "cookie's value) and come from this site.",
)
NOT_READY = Case(
    503,
    "not_ready",
    "The database cannot be reached.",
    extra={"checks": {"database": "unavailable", "broker": "ok"}},
)

# -- what shared dependencies raise -----------------------------------------------------

AUTH = (NOT_AUTHENTICATED, INVALID_TOKEN, TOKEN_EXPIRED, USER_NOT_FOUND, SESSION_REVOKED)
JSON_BODY = (MALFORMED_JSON, BODY_TOO_LARGE, VALIDATION_ERROR)
NO_BODY = (BODY_NOT_ALLOWED, BODY_TOO_LARGE)  # a mutating route without a body
PAGE = (VALIDATION_ERROR, INVALID_CURSOR)
SORTED_PAGE = (*PAGE, CURSOR_SORT_MISMATCH)  # a list with ``sort=``: its cursors name it
DATABASE = (DATABASE_UNAVAILABLE, DATABASE_TIMEOUT)  # any route that reads or writes
IDEMPOTENT = (IDEMPOTENCY_IN_PROGRESS, IDEMPOTENCY_KEY_REUSED, INVALID_IDEMPOTENCY_KEY)
