"""Queries of the idempotency table. Only ``flush()`` here; the unit of work commits."""

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.base import utcnow
from quorum.db.repository import get
from quorum.idempotency.models import IdempotencyRecord


async def try_lock(session: AsyncSession, user_id: uuid.UUID, key: str) -> bool:
    """PostgreSQL only: a transaction-level advisory lock on (user, key), or False at once
    if another transaction holds it. It is released after commit, when the stored
    response is already visible to whoever takes it next."""
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(_lock_id(user_id, key))))
    return bool(locked)


def _lock_id(user_id: uuid.UUID, key: str) -> int:
    raw = hashlib.blake2b(f"{user_id}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


async def find(session: AsyncSession, user_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
    return await get(
        session,
        IdempotencyRecord,
        IdempotencyRecord.user_id == user_id,
        IdempotencyRecord.key == key,
    )


def expired_before(ttl_seconds: int) -> datetime:
    """Records created before this have expired: a retry with their key runs again."""
    return utcnow() - timedelta(seconds=ttl_seconds)


async def save(session: AsyncSession, record: IdempotencyRecord, *, replaces_expired: bool) -> None:
    """Store ``record``, in place of its expired predecessor if there is one."""
    if replaces_expired:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.user_id == record.user_id, IdempotencyRecord.key == record.key
            )
        )
    session.add(record)
    await session.flush()


async def purge_expired(session: AsyncSession, ttl_seconds: int) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < expired_before(ttl_seconds))
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def delete_for_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account's stored responses: they hold its data, and nobody replays them."""
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id))
