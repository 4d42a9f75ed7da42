"""Queries of the accounts domain. Only ``flush()`` here; the unit of work commits."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts.models import User
from quorum.db.base import utcnow, uuid7
from quorum.db.insert import insert_unless_exists
from quorum.db.repository import get


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await get(session, User, User.id == user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    """``email`` as stored: lower-cased."""
    return await get(session, User, User.email == email)


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
