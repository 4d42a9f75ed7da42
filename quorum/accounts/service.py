"""Registration, login and the account's own changes (password, name, sessions,
deletion), and the answers for a token whose session or account is gone.

A password is verified outside the request's writing transaction, in a read-only one
that ends first: hashing takes tens of milliseconds, and on SQLite a writing
transaction holds the database's write lock. The write that follows is conditional on
what was read (the same hash, the same live session), so nothing changed in between
goes unnoticed.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as repo
from quorum.accounts.models import User
from quorum.accounts.passwords import Passwords
from quorum.accounts.schemas import RegisterIn
from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork, after_commit, read_only
from quorum.errors import Conflict, PermissionDenied, Unauthenticated
from quorum.idempotency.repository import delete_for_user

# Ends the streams opened under the given login sessions (their ids as text), on every
# instance: the application's real-time core, passed in. Called once the sessions' end
# has committed (``end_sessions``).
SessionsEnded = Callable[[Sequence[str]], Awaitable[None]]

# What else goes when an account does (the person's memberships: quorum/decisions),
# passed in by the application so that accounts import nothing of the features above.
AccountCleanup = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]


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
    if user is not None and user.deleted_at is not None:
        user = None
    if not await passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("invalid_credentials", "Wrong email or password.")
    return user


async def open_session(session: AsyncSession, user_id: uuid.UUID, ttl: timedelta) -> uuid.UUID:
    """A login session living as long as the access token issued in it."""
    return await repo.add_session(session, user_id, utcnow() + ttl)


def user_not_found() -> Unauthenticated:
    """What a valid token of a deleted account gets, on every route: the token is not
    the problem, the account is, and logging in again will not bring it back."""
    return Unauthenticated("user_not_found", "This account no longer exists.")


def session_revoked() -> Unauthenticated:
    """A well-signed, unexpired token whose session was ended: logged out, or revoked by
    a password change or "sign out everywhere". Logging in again gives a new one."""
    return Unauthenticated("session_revoked", "This session has ended; log in again.")


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await repo.get_user(session, user_id)
    if user is None or user.deleted_at is not None:
        raise user_not_found()
    return user


async def require_session(session: AsyncSession, caller: Caller) -> None:
    """The caller's account exists and the token's session is live, or 401."""
    state = await repo.session_state(session, caller.user_id, caller.session_id)
    if not state.user_active:
        raise user_not_found()
    if not state.session_live:
        raise session_revoked()


async def end_sessions(
    session: AsyncSession,
    ended: SessionsEnded,
    user_id: uuid.UUID,
    *,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> None:
    """The one place login sessions end: their rows go (every token of theirs is refused
    from the commit on), and once that has committed, ``ended`` closes the streams opened
    under them, on every instance. ``only`` one session, or all but ``keep``, or all."""
    ids = await repo.delete_sessions(session, user_id, only=only, keep=keep)
    if ids:
        keys = [str(session_id) for session_id in ids]
        after_commit(session, lambda: ended(keys))


async def log_out(session: AsyncSession, caller: Caller, ended: SessionsEnded) -> None:
    await end_sessions(session, ended, caller.user_id, only=caller.session_id)


async def sign_out_everywhere(session: AsyncSession, caller: Caller, ended: SessionsEnded) -> None:
    await end_sessions(session, ended, caller.user_id)


async def set_display_name(session: AsyncSession, caller: Caller, name: str) -> User:
    user = await repo.get_user(session, caller.user_id, for_update=True)
    if user is None or user.deleted_at is not None:
        raise user_not_found()
    user.display_name = name
    await session.flush()
    return user


def wrong_password() -> PermissionDenied:
    """403, not 401: the token is fine, and a client must not take this for a logout."""
    return PermissionDenied("wrong_password", "The current password is not correct.")


async def _verified_hash(
    uow: UnitOfWork, passwords: Passwords, caller: Caller, password: str
) -> str:
    """The stored hash, once ``password`` matched it; read in a transaction of its own."""
    async with read_only(uow.sessionmaker) as session:
        await require_session(session, caller)
        password_hash = await repo.password_hash(session, caller.user_id)
    if password_hash is None or not await passwords.verify(password_hash, password):
        raise wrong_password()  # None: not after require_session, but the type says it may
    return password_hash


async def change_password(
    uow: UnitOfWork,
    session: AsyncSession,
    passwords: Passwords,
    caller: Caller,
    current: str,
    new: str,
    ended: SessionsEnded,
) -> None:
    """Store the new hash and end every other session: whoever else held one (a stolen
    token, another device) must log in with the new password; this token keeps working."""
    old_hash = await _verified_hash(uow, passwords, caller, current)
    new_hash = await passwords.hash(new)
    await require_session(session, caller)
    if not await repo.set_password_hash(session, caller.user_id, old_hash, new_hash):
        raise wrong_password()  # changed meanwhile: the password just verified is stale
    await end_sessions(session, ended, caller.user_id, keep=caller.session_id)


async def delete_account(
    uow: UnitOfWork,
    session: AsyncSession,
    passwords: Passwords,
    caller: Caller,
    password: str,
    cleanup: AccountCleanup,
    ended: SessionsEnded,
) -> None:
    """Tombstone the account (quorum/accounts/repository.py ``tombstone_user``), end its
    sessions, drop its idempotency records and let ``cleanup`` drop the rest. Proposals,
    votes and comments stay: they are the decisions' history, now by "deleted user"."""
    await _verified_hash(uow, passwords, caller, password)
    await repo.get_user(session, caller.user_id, for_update=True)  # one deletion at a time
    await require_session(session, caller)  # read under the lock: never deleted twice
    await repo.tombstone_user(session, caller.user_id)
    await end_sessions(session, ended, caller.user_id)
    await delete_for_user(session, caller.user_id)
    await cleanup(session, caller.user_id)
