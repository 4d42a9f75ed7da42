"""The password hash leaves the database only for the reads that check a password: a user
loaded to name a person in a response (a membership's user, an event's organizer) does
not carry it, and touching it there raises rather than fetching it quietly. Real SQLite
file, the models' own tables."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from quorum.accounts import repository as repo
from quorum.accounts.models import User
from quorum.db.models import metadata

EMAIL = "ana@example.com"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await repo.add_user(setup, EMAIL, "Ana", HASH)
        await setup.commit()
    async with sessions() as session:
        yield session
    await engine.dispose()


async def test_a_user_read_to_name_them_does_not_carry_the_hash(session: AsyncSession) -> None:
    user = await session.scalar(select(User).where(User.email == EMAIL))
    assert user is not None and user.display_name == "Ana"
    assert "password_hash" not in user.__dict__
    with pytest.raises(InvalidRequestError):
        _ = user.password_hash


async def test_the_login_read_and_the_password_check_get_it(session: AsyncSession) -> None:
    user = await repo.get_user_by_email(session, EMAIL)
    assert user is not None and user.password_hash == HASH
    assert await repo.password_hash(session, user.id) == HASH
    assert await repo.password_hash(session, uuid.uuid4()) is None
