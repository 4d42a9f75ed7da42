"""The browser session's checks on their own: which ``Origin`` is ours (default ports,
case, the WebSocket's schemes, what no browser sends), and the signed double-submit
CSRF check, on requests built from ASGI scopes."""

import uuid
from datetime import timedelta

import pytest
from starlette.requests import HTTPConnection
from starlette.responses import Response

from quorum.accounts import browser
from quorum.accounts.tokens import Caller
from quorum.errors import PermissionDenied

KEY = "unit-test-key-" + "k" * 32


def connection(
    headers: dict[str, str], *, scheme: str = "http", host: str = "quorum.example"
) -> HTTPConnection:
    given = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    raw = [(b"host", host.encode()), *given]
    kind = "websocket" if scheme.startswith("ws") else "http"
    return HTTPConnection({"type": kind, "scheme": scheme, "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("http", "quorum.example", "http://quorum.example"),
        ("http", "quorum.example:80", "http://quorum.example"),
        ("http", "quorum.example", "http://quorum.example:80"),
        ("https", "quorum.example", "https://quorum.example:443"),
        ("http", "Quorum.Example:8080", "HTTP://quorum.example:8080"),
        ("http", "[::1]:8000", "http://[::1]:8000"),
        ("ws", "quorum.example:8000", "http://quorum.example:8000"),
        ("wss", "quorum.example", "https://quorum.example"),
    ],
)
def test_our_own_origin_matches(scheme: str, host: str, origin: str) -> None:
    assert browser.same_origin(connection({"Origin": origin}, scheme=scheme, host=host))


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("http", "quorum.example", "http://evil.example"),
        ("http", "quorum.example", "https://quorum.example"),  # another scheme
        ("https", "quorum.example", "http://quorum.example"),
        ("http", "quorum.example:8080", "http://quorum.example"),  # another port
        ("http", "quorum.example", "http://quorum.example.evil.example"),
        ("http", "quorum.example", "null"),
        ("http", "quorum.example", ""),
        ("http", "quorum.example", "quorum.example"),
        ("http", "quorum.example", "http://user@quorum.example"),
        ("http", "quorum.example", "http://quorum.example/path"),
        ("http", "quorum.example", "http://quorum.example:99999"),
        ("http", "quorum.example", "ftp://quorum.example"),
        ("wss", "quorum.example", "http://quorum.example"),
    ],
)
def test_any_other_origin_does_not(scheme: str, host: str, origin: str) -> None:
    assert not browser.same_origin(connection({"Origin": origin}, scheme=scheme, host=host))


def test_no_origin_header_is_no_evidence_either_way() -> None:
    assert browser.same_origin(connection({}))


def _login() -> tuple[str, str]:
    """The two cookies' values, as ``start`` sets them."""
    response = Response()
    caller = Caller(uuid.uuid4(), uuid.uuid4())
    browser.start(response, connection({}), KEY, caller, timedelta(minutes=5))
    values = {}
    for header in response.headers.getlist("set-cookie"):
        name, _, rest = header.partition("=")
        values[name] = rest.split(";")[0]
    return values[browser.SESSION_COOKIE], values[browser.CSRF_COOKIE]


def _check(headers: dict[str, str]) -> None:
    conn = connection(headers)
    found = browser.from_cookie(conn, KEY)
    assert found is not None
    browser.check_csrf(conn, found)


def test_the_header_must_equal_the_cookie_and_the_session_s_own_token() -> None:
    session, csrf = _login()
    _, planted = _login()  # a real CSRF value, of another session
    cookie = f"quorum_session={session}; quorum_csrf={csrf}"
    _check({"Cookie": cookie, "X-CSRF-Token": csrf})
    for headers in [
        {"Cookie": cookie},
        {"Cookie": cookie, "X-CSRF-Token": planted},
        {"Cookie": cookie, "X-CSRF-Token": csrf + "x"},
        {"Cookie": cookie, "X-CSRF-Token": "é" + csrf[1:]},  # not ASCII: no TypeError
        {"Cookie": f"quorum_session={session}; quorum_csrf={planted}", "X-CSRF-Token": planted},
        {"Cookie": f"quorum_session={session}", "X-CSRF-Token": csrf},
        {"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    ]:
        with pytest.raises(PermissionDenied) as refused:
            _check(headers)
        assert refused.value.code == "csrf_failed"
