"""Dependencies every feature's routes share, as ``Annotated`` aliases.

They are ``async def`` although none of them awaits anything: FastAPI runs a plain
``def`` dependency in a worker thread, and three thread round trips per request (each
waiting for the GIL held by a busy event loop) cost more than the dependencies
themselves (bench/RESULTS.md).
"""

import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import tokens
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


async def current_user_id(
    request: Request, settings: SettingsDep, token: Annotated[str | None, Depends(_bearer)]
) -> uuid.UUID:
    """The caller's id from a valid access token; no database round trip."""
    if not token:
        raise Unauthenticated(
            "not_authenticated", "Send an access token: Authorization: Bearer ..."
        )
    claims = tokens.verify(settings.signing_key(), token, tokens.ACCESS_AUDIENCE)
    user_id = tokens.subject(claims)
    request.state.user_id = user_id
    return user_id


CurrentUserId = Annotated[uuid.UUID, Depends(current_user_id)]
