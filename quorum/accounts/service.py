"""Registration and login, and the one answer for an account that no longer exists."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as repo
from quorum.accounts.models import User
from quorum.accounts.passwords import Passwords
from quorum.accounts.schemas import RegisterIn
from quorum.db.uow import UnitOfWork
from quorum.errors import Conflict, Unauthenticated


async def register(session: AsyncSession, passwords: Passwords, data: RegisterIn) -> User:
    user = await repo.add_user(
        session,
        email=data.email.lower(),
        display_name=data.display_name,
        password_hash=await passwords.hash(data.password),
    )
    if user is None:
        raise Conflict("email_taken", "An account with this email already exists.")
    return user


async def authenticate(uow: UnitOfWork, passwords: Passwords, email: str, password: str) -> User:
    """Check a login. The hash is verified after the lookup's transaction has ended: it
    takes tens of milliseconds, and on SQLite an open transaction holds the write lock."""
    email = email.strip().lower()
    user = None
    if "\x00" not in email:  # no stored email has one, and PostgreSQL refuses it in a query
        async with uow.transaction() as session:
            user = await repo.get_user_by_email(session, email)
    if not await passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("invalid_credentials", "Wrong email or password.")
    return user


def user_not_found() -> Unauthenticated:
    """What a valid token of a deleted account gets, on every route: the token is not
    the problem, the account is, and logging in again will not bring it back."""
    return Unauthenticated("user_not_found", "This account no longer exists.")


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repo.get_user(session, user_id)
    if user is None:
        raise user_not_found()
    return user


async def require_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    if not await repo.user_exists(session, user_id):
        raise user_not_found()
