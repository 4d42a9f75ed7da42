"""Routes: register, log in (OAuth2 password flow for API clients, a cookie session for
the web page), log out, and the account's own changes: who am I, display name,
password, sign out everywhere, deletion."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from quorum.accounts import browser, service, tokens
from quorum.accounts.passwords import Passwords
from quorum.accounts.problems import (
    BAD_FORM,
    EMAIL_TAKEN,
    FORM_REQUIRED,
    INVALID_CREDENTIALS,
    LOGIN_FORM,
    WRONG_PASSWORD,
)
from quorum.accounts.schemas import (
    AccountDeletion,
    PasswordChange,
    ProfileUpdate,
    RegisterIn,
    SessionLogin,
    TokenOut,
    UserOut,
)
from quorum.accounts.service import AccountCleanup, SessionsEnded
from quorum.accounts.tokens import Caller
from quorum.api.deps import CurrentCaller, CurrentUserId, SessionDep, SettingsDep, TokenCaller
from quorum.api.errors import validation_hint
from quorum.api.problems import (
    AUTH,
    BODY_TOO_LARGE,
    CSRF_FAILED,
    DATABASE,
    JSON_BODY,
    NO_BODY,
    RATE_LIMITED,
    problems,
)
from quorum.api.ratelimit import (
    limit_login,
    limit_login_attempt,
    limit_password_check,
    limit_register,
)
from quorum.api.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["accounts"])


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


def get_sessions_ended(request: Request) -> SessionsEnded:
    """The application's way to end the streams of ended sessions (its real-time core)."""
    ended: SessionsEnded = request.app.state.sessions_ended
    return ended


SessionsEndedDep = Annotated[SessionsEnded, Depends(get_sessions_ended)]
PASSWORD_CHECK = (*AUTH, *JSON_BODY, WRONG_PASSWORD, RATE_LIMITED, *DATABASE)


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
    session: SessionDep,
) -> TokenOut:
    """Log in with an OAuth2 password form (``username`` is the email), not JSON: a
    bearer access token for every other route, valid until it expires or its session
    is ended (log out, a password change, sign out everywhere)."""
    uow = request.app.state.uow
    user = await service.authenticate(uow, passwords, form.username, form.password)
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    session_id = await service.open_session(session, user.id, ttl)
    access_token = tokens.issue(
        settings.signing_key(), user.id, tokens.ACCESS_AUDIENCE, ttl, sid=str(session_id)
    )
    return TokenOut(access_token=access_token, expires_in=settings.access_token_ttl_seconds)


@router.post("/auth/logout", status_code=204, responses=problems(AUTH, NO_BODY, DATABASE))
async def logout(caller: CurrentCaller, session: SessionDep, ended: SessionsEndedDep) -> Response:
    """End this token's session: the token is refused from now on, on every instance
    (401 ``session_revoked``), and the streams opened with it (or with a stream ticket
    minted with it) end. Takes no body."""
    await service.log_out(session, caller, ended)
    return Response(status_code=204)


@router.post(
    "/auth/session",
    responses=problems(CSRF_FAILED, JSON_BODY, INVALID_CREDENTIALS, RATE_LIMITED, DATABASE),
)
async def start_browser_session(
    request: Request,
    response: Response,
    body: SessionLogin,
    passwords: PasswordsDep,
    settings: SettingsDep,
    session: SessionDep,
) -> UserOut:
    """Log in for the web page: the account (as ``GET /me``), and two cookies. The
    session cookie (``quorum_session``: signed, HttpOnly, SameSite=Lax, Secure over
    HTTPS) stands for a bearer token on every route, for as long as an access token
    lives; ``quorum_csrf`` is for the page to send back in ``X-CSRF-Token`` on every
    POST, PATCH, PUT and DELETE (403 ``csrf_failed`` otherwise). Wrong credentials are
    401 ``invalid_credentials``; attempts count against the same limit as
    ``/auth/token``'s. A request from another site's page (its ``Origin``) is 403
    ``csrf_failed``: nobody can log a browser into an account of their choosing."""
    if not browser.same_origin(request):
        raise browser.csrf_failed()
    await limit_login_attempt(request, body.email)
    uow = request.app.state.uow
    user = await service.authenticate(uow, passwords, body.email, body.password)
    ttl = timedelta(seconds=settings.access_token_ttl_seconds)
    session_id = await service.open_session(session, user.id, ttl)
    browser.start(response, request, settings.signing_key(), Caller(user.id, session_id), ttl)
    return UserOut.model_validate(user)


@router.delete("/auth/session", status_code=204, responses=problems(CSRF_FAILED, NO_BODY, DATABASE))
async def end_browser_session(
    request: Request, settings: SettingsDep, session: SessionDep, ended: SessionsEndedDep
) -> Response:
    """Log the web page out: the cookie's login session ends (on every instance, at
    once) and both cookies are cleared. Always 204, whatever the cookie's state (absent,
    expired, already ended); with one of ours, ``X-CSRF-Token`` is required as on any
    other change. Bearer tokens log out with ``POST /auth/logout``. Takes no body."""
    found = browser.optional(request, settings.signing_key())
    if found is not None:
        browser.check_csrf(request, found)
        await service.log_out(session, found.caller, ended)
    response = Response(status_code=204)
    browser.end(response, request)
    return response


@router.get("/me", responses=problems(AUTH, DATABASE))
async def me(user_id: CurrentUserId, session: SessionDep) -> UserOut:
    """The account the access token belongs to."""
    return UserOut.model_validate(await service.get_user(session, user_id))


@router.patch("/me", responses=problems(AUTH, JSON_BODY, DATABASE))
async def update_me(body: ProfileUpdate, caller: CurrentCaller, session: SessionDep) -> UserOut:
    """Change the display name (the rules of registration: 1-100 characters, not blank)."""
    user = await service.set_display_name(session, caller, body.display_name)
    return UserOut.model_validate(user)


@router.post(
    "/me/password",
    status_code=204,
    dependencies=[Depends(limit_password_check)],
    responses=problems(PASSWORD_CHECK),
)
async def change_password(
    request: Request,
    body: PasswordChange,
    caller: TokenCaller,
    session: SessionDep,
    passwords: PasswordsDep,
    ended: SessionsEndedDep,
) -> Response:
    """Change the password, proving the current one (403 ``wrong_password``; attempts
    are rate limited per user like logins). Every other session of the account ends,
    with its streams; this token keeps working."""
    uow = request.app.state.uow
    await service.change_password(
        uow, session, passwords, caller, body.current_password, body.new_password, ended
    )
    return Response(status_code=204)


@router.post("/me/sessions/revoke", status_code=204, responses=problems(AUTH, NO_BODY, DATABASE))
async def sign_out_everywhere(
    caller: CurrentCaller, session: SessionDep, ended: SessionsEndedDep
) -> Response:
    """Sign out everywhere: every session of the account ends, this one included, and
    every stream opened in one of them. Takes no body."""
    await service.sign_out_everywhere(session, caller, ended)
    return Response(status_code=204)


@router.delete(
    "/me",
    status_code=204,
    dependencies=[Depends(limit_password_check)],
    responses=problems(PASSWORD_CHECK),
)
async def delete_me(
    request: Request,
    body: AccountDeletion,
    caller: TokenCaller,
    session: SessionDep,
    passwords: PasswordsDep,
    ended: SessionsEndedDep,
) -> Response:
    """Delete the account, proving its password (403 ``wrong_password``). The email is
    free again at once; sessions, memberships and requests go (an organizer's
    membership stays, so the event keeps its organizer); proposals, votes and comments
    stay, by "deleted user"."""
    cleanup: AccountCleanup = request.app.state.account_cleanup
    uow = request.app.state.uow
    await service.delete_account(uow, session, passwords, caller, body.password, cleanup, ended)
    return Response(status_code=204)
