"""Queries of the accounts domain. Only ``flush()`` here; the unit of work commits."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from quorum.accounts.models import DELETED_NAME, UNUSABLE_PASSWORD, LoginSession, User
from quorum.db.base import utcnow, uuid7
from quorum.db.insert import insert_unless_exists
from quorum.db.repository import get


async def get_user(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> User | None:
    return await get(session, User, User.id == user_id, for_update=for_update)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """``email`` as stored: lower-cased. With the password hash: this is the login's read."""
    return await get(session, User, User.email == email, options=(undefer(User.password_hash),))


async def password_hash(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    return await session.scalar(select(User.password_hash).where(User.id == user_id))


async def user_exists(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return await session.scalar(select(User.id).where(User.id == user_id)) is not None


async def display_name(session: AsyncSession, user_id: uuid.UUID) -> str | None:
    """The user's name alone, without loading the account (and its password hash)."""
    return await session.scalar(select(User.display_name).where(User.id == user_id))


async def add_user(
    session: AsyncSession, email: str, display_name: str, password_hash: str
) -> User | None:
    """The new account, or None if one with this email exists: the UNIQUE key decides,
    between concurrent registrations too."""
    user_id = uuid7()
    if not await insert_unless_exists(
        session,
        User,
        id=user_id,
        email=email,
        display_name=display_name,
        password_hash=password_hash,
        created_at=utcnow(),
    ):
        return None
    return await session.get_one(User, user_id)


# -- login sessions ---------------------------------------------------------------------


async def add_session(session: AsyncSession, user_id: uuid.UUID, expires_at: datetime) -> uuid.UUID:
    session_id = uuid7()
    session.add(
        LoginSession(id=session_id, user_id=user_id, created_at=utcnow(), expires_at=expires_at)
    )
    await session.flush()
    return session_id


class SessionState(NamedTuple):
    user_active: bool  # the account exists and is not deleted
    session_live: bool  # and this session of it is neither revoked nor expired


async def session_state(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> SessionState:
    """The account and one of its sessions, in one primary-key lookup of each."""
    live = and_(
        LoginSession.id == session_id,
        LoginSession.user_id == User.id,
        LoginSession.expires_at > utcnow(),
    )
    row = (
        await session.execute(
            select(User.deleted_at, LoginSession.id)
            .select_from(User)
            .outerjoin(LoginSession, live)
            .where(User.id == user_id)
        )
    ).one_or_none()
    if row is None or row.deleted_at is not None:
        return SessionState(user_active=False, session_live=False)
    return SessionState(user_active=True, session_live=row.id is not None)


async def delete_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> Sequence[uuid.UUID]:
    """Revoke the user's sessions: just ``only``, or all but ``keep``, or all; their ids."""
    statement = delete(LoginSession).where(LoginSession.user_id == user_id)
    if only is not None:
        statement = statement.where(LoginSession.id == only)
    if keep is not None:
        statement = statement.where(LoginSession.id != keep)
    return (await session.scalars(statement.returning(LoginSession.id))).all()


async def purge_expired_sessions(session: AsyncSession) -> int:
    result = await session.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
    return result.rowcount or 0  # type: ignore[attr-defined]


# -- account changes --------------------------------------------------------------------


async def set_password_hash(
    session: AsyncSession, user_id: uuid.UUID, old_hash: str, new_hash: str
) -> bool:
    """Replace the hash the caller verified against: False if it changed meanwhile (a
    concurrent change won), so two changes never both believe they succeeded."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.password_hash == old_hash, User.deleted_at.is_(None))
        .values(password_hash=new_hash)
        .returning(User.id)
    )
    return result.one_or_none() is not None


async def tombstone_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """What is left of a deleted account: a row that the person's proposals, votes and
    comments still name, with nothing that identifies or admits anyone. The email is
    freed (anyone may register it again); ``!`` is no argon2 hash, so no password
    matches it."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(
            email=f"deleted-{user_id}@deleted.invalid",
            display_name=DELETED_NAME,
            password_hash=UNUSABLE_PASSWORD,
            deleted_at=utcnow(),
        )
    )
