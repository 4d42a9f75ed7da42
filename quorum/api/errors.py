"""RFC 9457 problem+json for every error the API returns.

Clients branch on ``code``, which never changes once published; ``title`` and
``detail`` are for people. Validation failures list their fields under ``errors``.
A lost database connection is a 503 with Retry-After, not a 500: the client should
retry, and the pool reconnects by itself once the database is back.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, cast

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from quorum import errors
from quorum.db.errors import is_unavailable

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 2

_STATUS_BY_KIND: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unavailable: 503,
}
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
    return problem(status, exc.code, exc.detail, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    exc = cast(RequestValidationError, exc)
    details = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(d["type"] == "json_invalid" for d in details):
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    return problem(422, "validation_error", "The request failed validation.", errors=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    exc = cast(StarletteHTTPException, exc)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError | RecursionError):
        # FastAPI's own 400 for a JSON body that is not UTF-8 (RFC 8259 requires it) or
        # nests too deep to parse: malformed JSON as well, under the same code.
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, code, detail, headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:200])
    return problem(
        503,
        "database_unavailable",
        "The database cannot be reached right now; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _db_error(request: Request, exc: Exception) -> Response:
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
