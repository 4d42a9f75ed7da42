"""Browser sessions: the web page's login session, carried in cookies rather than in an
``Authorization`` header, and what keeps other sites from using it.

``quorum_session`` holds a signed token like an access token (user, login session
``sid``, expiry) but with an audience of its own, so a cookie's token is refused as a
bearer token and a bearer token is refused as a cookie. It is HttpOnly (no script reads
it), SameSite=Lax (no cross-site subrequest or form post carries it), Secure when the
request came over HTTPS, and lives as long as its login session: logging out, a
password change elsewhere or "sign out everywhere" ends it like any token.

A browser attaches the cookie to every request to our origin, whoever's page made it,
so a request that changes something must prove it comes from our page (OWASP's "signed
double-submit cookie"): ``quorum_csrf`` is random and readable by our page's script,
which sends it back in ``X-CSRF-Token``. Another site can neither read it nor set the
header. The session token carries the CSRF token's SHA-256, so a ``quorum_csrf`` cookie
planted by a sibling subdomain (which can write cookies for us, not read them) does not
pass either. And an ``Origin`` header, when the browser sends one, must be our own.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

from quorum.accounts import tokens
from quorum.accounts.tokens import Caller
from quorum.errors import PermissionDenied, Unauthenticated

SESSION_COOKIE = "quorum_session"
CSRF_COOKIE = "quorum_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HTTP_SCHEME = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class BrowserSession(NamedTuple):
    caller: Caller
    claims: dict[str, Any]


def csrf_failed() -> PermissionDenied:
    return PermissionDenied(
        "csrf_failed",
        f"A request made with the session cookie must send {CSRF_HEADER} (the {CSRF_COOKIE} "
        "cookie's value) and come from this site.",
    )


def start(
    response: Response, conn: HTTPConnection, key: str, caller: Caller, ttl: timedelta
) -> None:
    """Set both cookies on ``response`` for a login session that lasts ``ttl``."""
    csrf = secrets.token_urlsafe(32)
    token = tokens.issue(
        key,
        caller.user_id,
        tokens.BROWSER_AUDIENCE,
        ttl,
        sid=str(caller.session_id),
        csrf=_digest(csrf),
    )
    max_age = int(ttl.total_seconds())
    secure = _is_https(conn)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, secure=secure, httponly=True, samesite="lax"
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, secure=secure, samesite="lax")


def end(response: Response, conn: HTTPConnection) -> None:
    """Tell the browser to drop both cookies."""
    secure = _is_https(conn)
    response.delete_cookie(SESSION_COOKIE, secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, secure=secure, samesite="lax")


def from_cookie(conn: HTTPConnection, key: str) -> BrowserSession | None:
    """The session the cookie names, None without one; 401 if it is forged or expired.
    Whether the login session is still live is the caller's to check, as for tokens."""
    value = conn.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    claims = tokens.verify(key, value, tokens.BROWSER_AUDIENCE)
    return BrowserSession(tokens.caller(claims), claims)


def optional(conn: HTTPConnection, key: str) -> BrowserSession | None:
    """The cookie's session, or None when there is none worth ending (absent, forged,
    expired): for logging out, which succeeds whatever state the browser is in."""
    try:
        return from_cookie(conn, key)
    except Unauthenticated:
        return None


def check_csrf(conn: HTTPConnection, found: BrowserSession) -> None:
    """403 ``csrf_failed`` unless the request proves it comes from our page: the header
    equals the cookie (compared in constant time), hashes to what the session token
    says, and any ``Origin`` is ours."""
    sent = conn.headers.get(CSRF_HEADER, "").encode()
    cookie = conn.cookies.get(CSRF_COOKIE, "").encode()
    expected = found.claims.get("csrf")
    if not sent or not isinstance(expected, str):
        raise csrf_failed()
    matches = hmac.compare_digest(sent, cookie)
    signed = hmac.compare_digest(_digest(sent).encode(), expected.encode())
    if not (matches and signed and same_origin(conn)):
        raise csrf_failed()


def same_origin(conn: HTTPConnection) -> bool:
    """Whether the ``Origin`` header, if any, names the origin this request was sent to
    (scheme as the app sees it behind a trusted proxy, host and port from ``Host``).
    ``Origin: null`` (a sandboxed frame, a redirect across sites) is never ours."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    scheme = _HTTP_SCHEME.get(conn.url.scheme, conn.url.scheme)
    own = _origin(f"{scheme}://{conn.url.netloc}")
    return own is not None and _origin(origin) == own


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, default port filled in; None if it is none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme]


def _is_https(conn: HTTPConnection) -> bool:
    return _HTTP_SCHEME.get(conn.url.scheme) == "https"


def _digest(csrf: str | bytes) -> str:
    raw = csrf.encode() if isinstance(csrf, str) else csrf
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).rstrip(b"=").decode()
