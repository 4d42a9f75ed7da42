"""Routes: register, log in (OAuth2 password flow), who am I."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from quorum.accounts import service, tokens
from quorum.accounts.passwords import Passwords
from quorum.accounts.problems import (
    BAD_FORM,
    EMAIL_TAKEN,
    FORM_REQUIRED,
    INVALID_CREDENTIALS,
    LOGIN_FORM,
)
from quorum.accounts.schemas import RegisterIn, TokenOut, UserOut
from quorum.api.deps import CurrentUserId, SessionDep, SettingsDep
from quorum.api.errors import validation_hint
from quorum.api.problems import AUTH, BODY_TOO_LARGE, DATABASE, JSON_BODY, RATE_LIMITED, problems
from quorum.api.ratelimit import limit_login, limit_register
from quorum.api.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["accounts"])


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


@router.post(
    "/auth/register",
    status_code=201,
    dependencies=[Depends(limit_register)],
    responses=problems(JSON_BODY, EMAIL_TAKEN, RATE_LIMITED, DATABASE),
)
async def register(body: RegisterIn, session: SessionDep, passwords: PasswordsDep) -> UserOut:
    """Create an account; the email is unique whatever its case."""
    return UserOut.model_validate(await service.register(session, passwords, body))


@router.post(
    "/auth/token",
    dependencies=[validation_hint(LOGIN_FORM), Depends(limit_login)],
    responses=problems(
        BAD_FORM,
        INVALID_CREDENTIALS,
        BODY_TOO_LARGE,
        FORM_REQUIRED,
        RATE_LIMITED,
        DATABASE,
    ),
)
async def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    passwords: PasswordsDep,
    settings: SettingsDep,
) -> TokenOut:
    """Log in with an OAuth2 password form (``username`` is the email), not JSON: a
    bearer access token for every other route."""
    uow = request.app.state.uow
    user = await service.authenticate(uow, passwords, form.username, form.password)
    ttl = settings.access_token_ttl_seconds
    access_token = tokens.issue(
        settings.signing_key(), user.id, tokens.ACCESS_AUDIENCE, timedelta(seconds=ttl)
    )
    return TokenOut(access_token=access_token, expires_in=ttl)


@router.get("/me", responses=problems(AUTH, DATABASE))
async def me(user_id: CurrentUserId, session: SessionDep) -> UserOut:
    """The account the access token belongs to."""
    return UserOut.model_validate(await service.get_user(session, user_id))
