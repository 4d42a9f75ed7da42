"""Routes: register, log in (OAuth2 password flow), who am I."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from quorum.accounts import service, tokens
from quorum.accounts.passwords import Passwords
from quorum.accounts.schemas import RegisterIn, TokenOut, UserOut
from quorum.api.deps import CurrentUserId, SessionDep, SettingsDep
from quorum.api.errors import PROBLEM_RESPONSES, validation_hint
from quorum.api.ratelimit import limit_login, limit_register
from quorum.api.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["accounts"], responses=PROBLEM_RESPONSES)


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
# Clients often send the login as JSON, like every other body of this API.
LOGIN_FORM = (
    "Send an application/x-www-form-urlencoded OAuth2 password form: "
    "username=<email>&password=<password>."
)


@router.post("/auth/register", status_code=201, dependencies=[Depends(limit_register)])
async def register(body: RegisterIn, session: SessionDep, passwords: PasswordsDep) -> UserOut:
    return UserOut.model_validate(await service.register(session, passwords, body))


@router.post("/auth/token", dependencies=[validation_hint(LOGIN_FORM), Depends(limit_login)])
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    passwords: PasswordsDep,
    settings: SettingsDep,
) -> TokenOut:
    sessionmaker = request.app.state.sessionmaker
    user = await service.authenticate(sessionmaker, passwords, form.username, form.password)
    ttl = settings.access_token_ttl_seconds
    access_token = tokens.issue(
        settings.signing_key(), user.id, tokens.ACCESS_AUDIENCE, timedelta(seconds=ttl)
    )
    return TokenOut(access_token=access_token, expires_in=ttl)


@router.get("/me")
async def me(user_id: CurrentUserId, session: SessionDep) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, user_id))
