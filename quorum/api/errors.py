"""RFC 9457 problem+json for every error the API returns.

Clients branch on ``code``, which never changes once published; ``title`` and
``detail`` are for people. Validation failures list their fields under ``errors``.
A lost database connection is a 503 with Retry-After, not a 500: the client should
retry, and the pool reconnects by itself once the database is back. So is a statement the
database cancelled on its statement_timeout (``database_timeout``): the transaction was
rolled back, and the lock or the load it waited on is usually gone a moment later.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

import orjson
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from quorum import errors
from quorum.db.errors import is_timeout, is_unavailable

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2

_STATUS_BY_KIND: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.TooLarge: 413,
    errors.UnsupportedType: 415,
    errors.TooManyRequests: 429,
    errors.Unavailable: 503,
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class Problem(BaseModel):
    """The body of every error response, as the OpenAPI description shows it."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None  # validation failures: loc, msg, type


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": f"urn:quorum:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


def status_of(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in _STATUS_BY_KIND:
            return _STATUS_BY_KIND[kind]
    return 400


async def _domain_error(request: Request, exc: Exception) -> Response:
    exc = cast(errors.DomainError, exc)
    status = status_of(exc)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, errors.TooManyRequests | errors.Overloaded) and exc.retry_after is not None:
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(status, exc.code, exc.detail, headers=headers)


def validation_hint(detail: str) -> Any:
    """For a route's ``dependencies=``: the ``detail`` of its 422 ``validation_error``,
    to say what the route expects where clients commonly get it wrong (a form where they
    send JSON). It runs even when validation fails: FastAPI calls every dependency whose
    own inputs are valid before it raises the errors of the others."""

    async def hint(request: Request) -> None:
        explain_validation(request, detail)

    return Depends(hint)


def explain_validation(request: Request, detail: str) -> None:
    """The ``detail`` of this request's 422 ``validation_error``, should it fail."""
    request.state.validation_detail = detail


def _malformed_json() -> Response:
    """A JSON body that does not parse, whichever layer found out (pydantic, or FastAPI
    before it when the bytes are not UTF-8 or nest too deep): one code, one body."""
    return problem(400, "malformed_json", "The request body is not valid JSON.")


async def _validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    details: list[dict[str, Any]] = []
    for e in exc.errors():
        found = {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        # FastAPI validates a body-reading dependency once per dependant that uses it, so
        # the same failure can come twice; list each once.
        if found not in details:
            details.append(found)
    if any(d["type"] == "json_invalid" for d in details):
        return _malformed_json()
    detail = getattr(request.state, "validation_detail", "The request failed validation.")
    return problem(422, "validation_error", detail, errors=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError | RecursionError):
        # FastAPI's own 400 for a JSON body that is not UTF-8 (RFC 8259 requires it) or
        # nests too deep to parse: malformed JSON as well, under the same code.
        return _malformed_json()
    code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = exc.headers
    if exc.status_code == 405 and headers and "Allow" in headers:
        headers = {**headers, "Allow": _allowed_methods(request)}
    return problem(exc.status_code, code, detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method served at this path. Starlette's 405 names only those of the first
    route that matched the path, while RFC 9110 wants all the resource supports (GET
    and PATCH /events/{id} are two routes). Asked of the router itself, method by
    method, rather than by walking FastAPI's route tree, whose shape keeps changing."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


def _database_problem(exc: Exception, code: str, detail: str) -> Response:
    """503 with Retry-After: the transaction was rolled back, the request may be resent."""
    log.warning(code, error=type(exc).__name__, message=str(exc)[:200])
    return problem(503, code, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    return _database_problem(
        exc, "database_unavailable", "The database cannot be reached right now; retry shortly."
    )


async def _database_timeout(request: Request, exc: Exception) -> Response:
    return _database_problem(
        exc, "database_timeout", "The database did not complete the request in time; retry shortly."
    )


async def _db_error(request: Request, exc: Exception) -> Response:
    if is_timeout(exc):
        return await _database_timeout(request, exc)
    if is_unavailable(exc):
        return await _database_unavailable(request, exc)
    return await _internal_error(request, exc)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled_error", exc_info=exc)
    return problem(500, "internal_error", "An unexpected error occurred.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _db_error)
    # Only database errors: a failed connect is one too (quorum/db/engine.py), so that a
    # bare OSError (a full disk, a missing file) stays the bug it is, a 500.
    app.add_exception_handler(sa_exc.TimeoutError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)
