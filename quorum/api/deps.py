"""Dependencies every feature's routes share, as ``Annotated`` aliases.

They are ``async def`` even where they await nothing: FastAPI runs a plain ``def``
dependency in a worker thread, and three thread round trips per request (each waiting
for the GIL held by a busy event loop) cost more than the dependencies themselves
(bench/RESULTS.md).

The caller is named by ``Authorization: Bearer`` (API clients) or, without one, by the
web page's session cookie (quorum/accounts/browser.py), whose unsafe requests must also
pass the CSRF check: 403 ``csrf_failed``. A bearer header wins when both are sent.

A token is valid only while its login session is (quorum/accounts/models.py), read on
every use. ``CurrentCaller`` and ``CurrentUserId`` do that with one primary-key query;
``TokenCaller`` checks only the token, for the event-scoped routes whose access query
(quorum/decisions/access.py) reads the session in the same round trip, and for the
routes that check it in a transaction of their own.
"""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import browser, tokens
from quorum.accounts.service import require_session
from quorum.accounts.tokens import Caller
from quorum.errors import Unauthenticated
from quorum.settings import Settings

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncSession:
    """The request's session, opened by ``TransactionalRoute`` which also commits it."""
    session: AsyncSession = request.state.session
    return session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def token_caller(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> Caller:
    """The caller's user and session from a valid access token or session cookie, without
    a database round trip: whoever depends on this must check the session.

    The settings are read from the app, not through ``SettingsDep``: FastAPI solves a
    dependency's whole subtree every time it appears, cached or not, and this one appears
    twice in most routes (the route's own and the Idempotency-Key claim's)."""
    settings: Settings = request.app.state.settings
    key = settings.signing_key()
    if token:
        caller = tokens.caller(tokens.verify(key, token, tokens.ACCESS_AUDIENCE))
    else:
        found = browser.from_cookie(request, key)
        if found is None:
            raise Unauthenticated(
                "not_authenticated", "Send an access token: Authorization: Bearer ..."
            )
        if request.method not in browser.SAFE_METHODS:
            browser.check_csrf(request, found)
        caller = found.caller
    request.state.user_id = caller.user_id
    return caller


TokenCaller = Annotated[Caller, Depends(token_caller)]


async def current_caller(caller: TokenCaller, session: SessionDep) -> Caller:
    """The caller, once the token's session is known to be live (401 otherwise)."""
    await require_session(session, caller)
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def current_user_id(caller: CurrentCaller) -> uuid.UUID:
    return caller.user_id


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]
