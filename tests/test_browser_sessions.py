"""Browser sessions: the web page logs in with ``POST /auth/session`` and is then known
by its ``quorum_session`` cookie on every route; its changes carry ``X-CSRF-Token``
(the ``quorum_csrf`` cookie's value) and come from our own origin, or are refused with
403 ``csrf_failed``. The cookie's session is a login session like a token's: logging
out, a password change elsewhere or signing out everywhere ends it, on every instance.

Cookies are sent by hand (a ``Cookie`` header), never from httpx's jar: each test says
exactly what the browser would send.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from tests.api import PASSWORD, Api, User, problem
from tests.services import Backend, Server, start_server
from tests.sse import Event, events

SESSION = "/api/v1/auth/session"
ME = "/api/v1/me"
EVENTS = "/api/v1/events"
EVIL = "http://evil.example"
TTL = 3600  # QUORUM_ACCESS_TOKEN_TTL_SECONDS's default, which the test servers keep


@dataclass
class Browser:
    """What a browser holds after logging in: the two cookies."""

    session: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        return {"Cookie": f"quorum_session={self.session}; quorum_csrf={self.csrf}"}

    @property
    def writes(self) -> dict[str, str]:
        """The headers of the page's own mutating requests."""
        return {**self.cookie, "X-CSRF-Token": self.csrf}


def set_cookies(r: httpx.Response) -> dict[str, dict[str, str]]:
    """Each ``Set-Cookie`` of ``r`` by cookie name: its value under ``""`` and its
    attributes by lower-cased name (flags map to ``""``)."""
    found = {}
    for header in r.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        parsed = {"": value}
        for attribute in attributes:
            key, _, attr_value = attribute.partition("=")
            parsed[key.lower()] = attr_value
        found[name] = parsed
    return found


async def log_in(client: httpx.AsyncClient, user: User, **headers: str) -> httpx.Response:
    r = await client.post(
        SESSION, json={"email": user.email, "password": PASSWORD}, headers=headers
    )
    client.cookies.clear()  # httpx keeps what it is given; the tests send cookies by hand
    return r


async def browser(client: httpx.AsyncClient, user: User) -> Browser:
    r = await log_in(client, user)
    assert r.status_code == 200, r.text
    cookies = set_cookies(r)
    return Browser(cookies["quorum_session"][""], cookies["quorum_csrf"][""])


# -- logging in -------------------------------------------------------------------------


async def test_login_sets_a_signed_http_only_session_and_a_readable_csrf_cookie(api: Api) -> None:
    user = await api.user("ada")

    r = await log_in(api.client, user)

    assert r.status_code == 200, r.text
    me = await api.client.get(ME, headers=user.auth)
    assert r.json() == me.json()  # the body of GET /me
    cookies = set_cookies(r)
    assert cookies.keys() == {"quorum_session", "quorum_csrf"}
    session, csrf = cookies["quorum_session"], cookies["quorum_csrf"]
    for cookie in (session, csrf):
        assert cookie["samesite"].lower() == "lax", cookie
        assert cookie["path"] == "/", cookie
        assert cookie["max-age"] == str(TTL), cookie
        assert "secure" not in cookie, cookie  # plain HTTP here
        assert "domain" not in cookie, cookie  # this host only
    assert "httponly" in session
    assert "httponly" not in csrf  # the page's script reads it
    assert session[""].count(".") == 2  # a signed token ...
    assert len(csrf[""]) >= 32 and csrf[""] not in session[""]  # ... and a random value
    again = set_cookies(await log_in(api.client, user))
    assert again["quorum_csrf"][""] != csrf[""]  # a new one per login


async def test_wrong_credentials_are_the_token_route_s_401_and_set_no_cookie(api: Api) -> None:
    user = await api.user("ada")
    body = {"email": user.email, "password": "not the password"}

    r = await api.client.post(SESSION, json=body)
    form = await api.client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": "not the password"}
    )

    assert problem(r, 401, "invalid_credentials") == problem(form, 401, "invalid_credentials")
    assert "set-cookie" not in r.headers
    unknown = await api.client.post(SESSION, json={**body, "email": "nobody@example.com"})
    problem(unknown, 401, "invalid_credentials")
    problem(await api.client.post(SESSION, json={"email": user.email}), 422, "validation_error")


async def test_a_cross_site_login_is_refused(api: Api) -> None:
    """Login CSRF: another site's page must not log this browser into its account."""
    user = await api.user("ada")

    r = await log_in(api.client, user, Origin=EVIL)

    problem(r, 403, "csrf_failed")
    assert "set-cookie" not in r.headers
    # An HTML form cannot send JSON: its text/plain imitation of a JSON body is no login.
    body = f'{{"email": "{user.email}", "password": "{PASSWORD}", "x": "="}}'
    form = await api.client.post(SESSION, content=body, headers={"Content-Type": "text/plain"})
    problem(form, 422, "validation_error")
    assert "set-cookie" not in form.headers
    ours = await log_in(api.client, user, Origin=str(api.client.base_url).rstrip("/"))
    assert ours.status_code == 200, ours.text


# -- using the cookie -------------------------------------------------------------------


async def test_reads_with_the_cookie_need_no_csrf_token(api: Api) -> None:
    user = await api.user("ada")
    event = await api.event(user, title="cookie event")
    page = await browser(api.client, user)

    me = await api.client.get(ME, headers=page.cookie)
    listed = await api.client.get(EVENTS, headers=page.cookie)

    assert me.status_code == 200, me.text
    assert me.json()["id"] == user.id
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [event]
    problem(await api.client.get(ME), 401, "not_authenticated")


async def test_changes_with_the_cookie_need_the_csrf_token(api: Api) -> None:
    user = await api.user("ada")
    page = await browser(api.client, user)
    body = {"title": "from the page"}
    other = await browser(api.client, user)  # another tab's login: another CSRF token

    for headers in (
        page.cookie,  # no header
        {**page.cookie, "X-CSRF-Token": ""},
        {**page.cookie, "X-CSRF-Token": page.csrf[:-1] + ("A" if page.csrf[-1] != "A" else "B")},
        {**page.cookie, "X-CSRF-Token": other.csrf},  # a real token, of another session
        # A planted quorum_csrf cookie with a header to match: the session knows its own.
        {
            "Cookie": f"quorum_session={page.session}; quorum_csrf={other.csrf}",
            "X-CSRF-Token": other.csrf,
        },
        {"Cookie": f"quorum_session={page.session}", "X-CSRF-Token": page.csrf},  # no cookie
        {**page.writes, "Origin": EVIL},  # the right token, from another origin
        {**page.writes, "Origin": "null"},
    ):
        r = await api.client.post(EVENTS, json=body, headers=headers)
        problem(r, 403, "csrf_failed")
    mine = await api.client.get(EVENTS, headers=page.cookie)
    assert mine.json()["items"] == []  # nothing was created

    r = await api.client.post(EVENTS, json=body, headers=page.writes)
    assert r.status_code == 201, r.text
    same_origin = {**page.writes, "Origin": str(api.client.base_url).rstrip("/")}
    r = await api.client.patch(f"{EVENTS}/{r.json()['id']}", json=body, headers=same_origin)
    assert r.status_code == 200, r.text


async def test_a_cross_site_form_post_with_the_cookie_is_refused(api: Api) -> None:
    """What a malicious page's auto-submitted form sends: the cookie (had the browser
    attached it), a form body, its own Origin, and no CSRF header."""
    user = await api.user("ada")
    page = await browser(api.client, user)
    form = {**page.cookie, "Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"}

    revoke = await api.client.post("/api/v1/me/sessions/revoke", headers=form)
    create = await api.client.post(EVENTS, content=b"title=pwned", headers=form)

    problem(revoke, 403, "csrf_failed")
    problem(create, 403, "csrf_failed")
    assert (await api.client.get(ME, headers=page.cookie)).status_code == 200  # still in
    assert (await api.client.get(EVENTS, headers=page.cookie)).json()["items"] == []


async def test_a_bearer_token_wins_over_the_cookie_and_needs_no_csrf_token(api: Api) -> None:
    ada, bob = await api.user("ada"), await api.user("bob")
    bobs_page = await browser(api.client, bob)
    both = {**bobs_page.cookie, **ada.auth}

    me = await api.client.get(ME, headers=both)
    created = await api.client.post(EVENTS, json={"title": "bearer"}, headers=both)

    assert me.json()["id"] == ada.id
    assert created.status_code == 201, created.text
    assert created.json()["organizer"]["id"] == ada.id


async def test_a_tampered_or_foreign_cookie_is_401(api: Api) -> None:
    user = await api.user("ada")
    page = await browser(api.client, user)
    header, claims, signature = page.session.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")

    for value, code in [
        (f"{header}.{claims}.{flipped}", "invalid_token"),
        (user.token, "invalid_token"),  # a bearer token is no session cookie
        ("garbage", "invalid_token"),
    ]:
        cookie = {"Cookie": f"quorum_session={value}; quorum_csrf={page.csrf}"}
        problem(await api.client.get(ME, headers=cookie), 401, code)
        r = await api.client.post(
            EVENTS, json={"title": "t"}, headers={**cookie, "X-CSRF-Token": page.csrf}
        )
        problem(r, 401, code)
    # ... and the cookie is no bearer token
    bearer = {"Authorization": f"Bearer {page.session}"}
    problem(await api.client.get(ME, headers=bearer), 401, "invalid_token")


# -- streams ----------------------------------------------------------------------------


async def test_the_stream_accepts_the_cookie(api: Api) -> None:
    user = await api.user("ada")
    event = await api.event(user)
    page = await browser(api.client, user)

    async with api.client.stream("GET", f"{EVENTS}/{event}/stream", headers=page.cookie) as sse:
        assert sse.status_code == 200
        received = events(sse)
        assert (await anext(received)).event == "snapshot"
        r = await api.client.post(
            f"{EVENTS}/{event}/proposals",
            json={"kind": "CRITERIA", "title": "c"},
            headers=page.writes,
        )
        assert r.status_code == 201, r.text
        live = await asyncio.wait_for(anext(received), 10)
        assert live.event == "proposal.created", live


async def test_the_websocket_accepts_the_cookie_from_our_origin_only(
    api: Api, server: Server
) -> None:
    user = await api.user("ada")
    event = await api.event(user)
    page = await browser(api.client, user)
    url = server.url.replace("http", "ws", 1) + f"{EVENTS}/{event}/ws"

    async with ws_connect(url, additional_headers=page.cookie, origin=server.url) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
    async with ws_connect(url, additional_headers=page.cookie) as ws:  # no browser: no Origin
        assert json.loads(await ws.recv())["type"] == "snapshot"
    with pytest.raises(InvalidStatus) as denied:
        async with ws_connect(url, additional_headers=page.cookie, origin=EVIL):
            pass
    assert denied.value.response.status_code == 403
    assert json.loads(denied.value.response.body)["code"] == "csrf_failed"


# -- logging out ------------------------------------------------------------------------


async def test_logout_ends_the_session_and_clears_both_cookies(api: Api) -> None:
    user = await api.user("ada")
    page = await browser(api.client, user)

    problem(await api.client.delete(SESSION, headers=page.cookie), 403, "csrf_failed")
    r = await api.client.delete(SESSION, headers=page.writes)

    assert r.status_code == 204, r.text
    cleared = set_cookies(r)
    assert cleared.keys() == {"quorum_session", "quorum_csrf"}
    for cookie in cleared.values():
        assert cookie[""] in ("", '""'), cookie
        assert cookie["max-age"] == "0" and cookie["path"] == "/", cookie
    problem(await api.client.get(ME, headers=page.cookie), 401, "session_revoked")
    problem(await api.client.post(EVENTS, json={"title": "t"}, headers=page.writes), 401)
    # Idempotent: again, and with no cookie at all.
    assert (await api.client.delete(SESSION, headers=page.writes)).status_code == 204
    assert (await api.client.delete(SESSION)).status_code == 204
    assert (await api.client.get(ME, headers=user.auth)).status_code == 200  # other sessions stay


async def test_the_page_s_logout_ends_its_open_stream(api: Api) -> None:
    user = await api.user("ada")
    event = await api.event(user)
    page = await browser(api.client, user)
    async with api.client.stream("GET", f"{EVENTS}/{event}/stream", headers=page.cookie) as sse:
        received = events(sse)
        assert (await asyncio.wait_for(anext(received), 10)).event == "snapshot"
        assert (await api.client.delete(SESSION, headers=page.writes)).status_code == 204
        assert await asyncio.wait_for(_rest(received), 5) == []  # a clean end, at once


async def _rest(received: AsyncIterator[Event]) -> list[Event]:
    return [message async for message in received]


async def test_the_cookie_s_session_ends_like_a_token_s(api: Api) -> None:
    user = await api.user("ada")
    by_logout, by_password = await browser(api.client, user), await browser(api.client, user)

    assert (
        await api.client.post("/api/v1/auth/logout", headers=by_logout.writes)
    ).status_code == 204
    problem(await api.client.get(ME, headers=by_logout.cookie), 401, "session_revoked")

    change = {"current_password": PASSWORD, "new_password": "another long password"}
    r = await api.client.post("/api/v1/me/password", json=change, headers=user.auth)
    assert r.status_code == 204, r.text
    problem(await api.client.get(ME, headers=by_password.cookie), 401, "session_revoked")


async def test_deleting_the_account_from_the_page_ends_its_cookie(api: Api) -> None:
    user = await api.user("ada")
    page = await browser(api.client, user)
    body = {"password": PASSWORD}

    refused = await api.client.request("DELETE", ME, json=body, headers=page.cookie)
    problem(refused, 403, "csrf_failed")
    r = await api.client.request("DELETE", ME, json=body, headers=page.writes)

    assert r.status_code == 204, r.text
    problem(await api.client.get(ME, headers=page.cookie), 401, "user_not_found")
    problem(await log_in(api.client, user), 401, "invalid_credentials")


async def test_sign_out_everywhere_from_the_page(api: Api) -> None:
    user = await api.user("ada")
    event = await api.event(user)
    page = await browser(api.client, user)

    r = await api.client.post("/api/v1/me/sessions/revoke", headers=page.writes)

    assert r.status_code == 204, r.text
    problem(await api.client.get(ME, headers=page.cookie), 401, "session_revoked")
    problem(await api.client.get(ME, headers=user.auth), 401, "session_revoked")
    async with api.client.stream("GET", f"{EVENTS}/{event}/stream", headers=page.cookie) as sse:
        await sse.aread()
        problem(sse, 401, "session_revoked")


# -- two instances, and HTTPS behind a proxy --------------------------------------------


@pytest.fixture(scope="module")
def second_server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Another process on the same database; it trusts X-Forwarded-Proto from 127.0.0.1,
    as one behind a TLS-terminating proxy would."""
    server = start_server(
        backend, tmp_path_factory.mktemp("browser"), QUORUM_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    yield server
    server.stop()


@pytest.fixture
async def other(second_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=second_server.url, timeout=60) as client:
        yield client


@pytest.mark.slow
async def test_logout_is_refused_by_every_instance(api: Api, other: httpx.AsyncClient) -> None:
    user = await api.user("ada")
    page = await browser(api.client, user)
    for client in (api.client, other):
        assert (await client.get(ME, headers=page.cookie)).status_code == 200

    assert (await other.delete(SESSION, headers=page.writes)).status_code == 204

    for client in (api.client, other):
        problem(await client.get(ME, headers=page.cookie), 401, "session_revoked")


@pytest.mark.slow
async def test_behind_https_the_cookies_are_secure_and_the_origin_is_https(
    api: Api, other: httpx.AsyncClient, second_server: Server
) -> None:
    user = await api.user("ada")
    https = {"X-Forwarded-Proto": "https"}
    origin = second_server.url.replace("http://", "https://")

    r = await log_in(other, user, **https)

    assert r.status_code == 200, r.text
    cookies = set_cookies(r)
    assert all("secure" in cookie for cookie in cookies.values()), cookies
    page = Browser(cookies["quorum_session"][""], cookies["quorum_csrf"][""])
    created = await other.post(
        EVENTS, json={"title": "t"}, headers={**page.writes, **https, "Origin": origin}
    )
    assert created.status_code == 201, created.text
    # The same host over plain HTTP is another origin.
    plain = second_server.url
    r = await other.post(
        EVENTS, json={"title": "t"}, headers={**page.writes, **https, "Origin": plain}
    )
    problem(r, 403, "csrf_failed")
    logout = await other.delete(SESSION, headers={**page.writes, **https})
    assert all("secure" in cookie for cookie in set_cookies(logout).values())
