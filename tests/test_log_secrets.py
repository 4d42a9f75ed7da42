"""No password, token, ticket or session cookie in any log line, uvicorn's included.

uvicorn writes the WebSocket handshake's full URL (``"WebSocket /.../ws?ticket=eyJ..."
[accepted]``) under ``uvicorn.error``, a logger Quorum does not own; so a real
``quorum serve`` is driven through every place a secret travels (login, bearer header,
SSE and WebSocket tickets in the URL, an access token misused as a ticket, the web
page's session and CSRF cookies and header) and its
captured output is searched for each secret, in both log formats. A fresh interpreter
also logs secrets through the standard library, in messages and exceptions, to check
the redaction of foreign records directly.
"""

import json
import subprocess
import sys

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.api import PASSWORD, Api, User
from tests.services import ROOT, Backend, create_backend, start_server
from tests.sse import events

REDACTED = "[redacted]"


@pytest.fixture(scope="module")
def sqlite(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    """What gets logged does not depend on the database: one backend."""
    return create_backend("sqlite", tmp_path_factory.mktemp("log-secrets"))


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_stream_tickets_and_tokens_never_reach_the_log(
    sqlite: Backend, tmp_path_factory: pytest.TempPathFactory, log_format: str
) -> None:
    server = start_server(
        sqlite,
        tmp_path_factory.mktemp("logs"),
        cli_args=["serve"],
        QUORUM_LOG_FORMAT=log_format,
        QUORUM_LOG_LEVEL="DEBUG",
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            api = Api(client)
            owner = await api.user("owner")
            event = await api.event(owner)
            r = await client.post(f"/api/v1/events/{event}/stream-tickets", headers=owner.auth)
            assert r.status_code == 201, r.text
            ticket = r.json()["ticket"]
            stream = f"/api/v1/events/{event}/stream"
            async with client.stream("GET", f"{stream}?ticket={ticket}") as sse:
                assert sse.status_code == 200
                first = await anext(events(sse))
                assert first.event == "snapshot"
            ws_base = server.url.replace("http", "ws") + f"/api/v1/events/{event}/ws"
            async with ws_connect(f"{ws_base}?ticket={ticket}") as ws:
                assert json.loads(await ws.recv())["type"] == "snapshot"
            # An access token misused as a ticket is refused, and its URL logged as well.
            with pytest.raises(InvalidStatus):
                async with ws_connect(f"{ws_base}?ticket={owner.token}"):
                    pass
            cookie, csrf = await _browser_session(client, owner, stream, ws_base)
    finally:
        server.stop()
    log = server.log()
    assert f"/api/v1/events/{event}/ws" in log, log  # uvicorn did log the handshakes ...
    assert REDACTED in log, log  # ... with the secret replaced
    for secret in (ticket, owner.token, PASSWORD, cookie, csrf):
        assert secret not in log, log
    # Nor any part of them: a JWT's signature alone would still be a leak.
    for secret in (ticket, owner.token, cookie):
        for part in secret.split("."):
            assert part not in log, part


async def _browser_session(
    client: httpx.AsyncClient, owner: User, stream: str, ws_base: str
) -> tuple[str, str]:
    """The page's way in: log in, read, write with and without the CSRF token, the stream
    and the WebSocket (from another origin: refused) with the cookie, log out. The
    session and CSRF cookies' values."""
    body = {"email": owner.email, "password": PASSWORD}
    r = await client.post("/api/v1/auth/session", json=body)
    assert r.status_code == 200, r.text
    cookie, csrf = r.cookies["quorum_session"], r.cookies["quorum_csrf"]
    client.cookies.clear()
    headers = {"Cookie": f"quorum_session={cookie}; quorum_csrf={csrf}"}
    writes = {**headers, "X-CSRF-Token": csrf}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    refused = await client.post("/api/v1/events", json={"title": "t"}, headers=headers)
    assert refused.status_code == 403, refused.text
    created = await client.post("/api/v1/events", json={"title": "t"}, headers=writes)
    assert created.status_code == 201, created.text
    async with client.stream("GET", stream, headers=headers) as sse:
        assert (await anext(events(sse))).event == "snapshot"
    with pytest.raises(InvalidStatus):
        async with ws_connect(ws_base, additional_headers=headers, origin="http://evil.example"):
            pass
    assert (await client.delete("/api/v1/auth/session", headers=writes)).status_code == 204
    return cookie, csrf


SECRETS_SCRIPT = """
import logging, sys
from quorum import logs

logs.configure(sys.argv[1], "INFO")
log = logging.getLogger("some.library")
jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
log.info("GET /cb?code=1&access_token=tok-access-secret&state=2 HTTP/1.1")
log.info("url %s", "/x?ticket=tic-ticket-secret")
log.info("login user=ada password=pw-password-secret next")
log.info("headers {'Authorization': 'Bearer bearer-secret-value'}")
log.info("raw token=tok-token-secret; and a bare %s", jwt)
log.info("Cookie: quorum_session=cookie-header-secret; quorum_csrf=csrf-header-secret")
log.info("set-cookie: quorum_csrf=set-cookie-secret; Path=/; SameSite=lax")
log.info("scope headers [(b'cookie', b'quorum_session=raw-cookie-secret')]")
log.info("parsed quorum_session=parsed-session-secret quorum_csrf=parsed-csrf-secret")
log.info("headers {'X-CSRF-Token': 'csrf-token-secret', 'x-csrf-token': 'csrf-lower-secret'}")
log.info("X-CSRF-Token: csrf-line-secret")
try:
    raise ValueError("bad url /ws?ticket=exc-ticket-secret")
except ValueError:
    log.exception("failed")
"""
LEAKS = (
    "tok-access-secret",
    "tic-ticket-secret",
    "pw-password-secret",
    "bearer-secret-value",
    "tok-token-secret",
    "c2lnbmF0dXJlLXNlY3JldA",
    "exc-ticket-secret",
    "cookie-header-secret",
    "csrf-header-secret",
    "set-cookie-secret",
    "raw-cookie-secret",
    "parsed-session-secret",
    "parsed-csrf-secret",
    "csrf-token-secret",
    "csrf-lower-secret",
    "csrf-line-secret",
)


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_foreign_log_messages_are_redacted(log_format: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SECRETS_SCRIPT, log_format],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stderr
    assert "code=1" in out and "state=2" in out, out  # the rest of the line stays
    assert "ValueError" in out, out  # the traceback is still there
    assert out.count(REDACTED) >= len(LEAKS) - 1, out  # the Cookie line holds two
    for leak in LEAKS:
        assert leak not in out, out
