"""Removes orphaned objects: attachment bytes whose row does not exist.

They come from a process that died between storing an object and committing its row, a
deletion whose after-commit removal failed, or a deleted event (its attachments' rows
go with its proposals, in the database alone). An object is an orphan only once it is
older than ``QUORUM_ORPHAN_BLOB_MINUTES``, so that an upload committing its row right
now is never taken for one. Every instance may sweep; deleting twice is harmless.
"""

import asyncio
import uuid
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.attachments import repository as repo
from quorum.attachments.models import PREFIX
from quorum.db.base import utcnow
from quorum.db.uow import read_only
from quorum.storage.store import BlobStore, StoredObject

log = structlog.get_logger(__name__)
BATCH = 200


async def sweep_once(
    store: BlobStore, sessionmaker: async_sessionmaker[AsyncSession], min_age: timedelta
) -> int:
    """Delete the orphans older than ``min_age``; returns how many."""
    cutoff = utcnow() - min_age
    removed = 0
    batch: dict[uuid.UUID, StoredObject] = {}
    async for stored in store.list(PREFIX):
        attachment_id = _attachment_id(stored.key)
        if stored.last_modified < cutoff:
            if attachment_id is None:
                await store.delete(stored.key)  # not ours to keep: no id in its name
                removed += 1
            else:
                batch[attachment_id] = stored
        if len(batch) >= BATCH:
            removed += await _delete_orphans(store, sessionmaker, batch)
            batch = {}
    if batch:
        removed += await _delete_orphans(store, sessionmaker, batch)
    return removed


async def _delete_orphans(
    store: BlobStore,
    sessionmaker: async_sessionmaker[AsyncSession],
    batch: dict[uuid.UUID, StoredObject],
) -> int:
    async with read_only(sessionmaker) as session:
        kept = await repo.existing_ids(session, list(batch))
    orphans = [stored for attachment_id, stored in batch.items() if attachment_id not in kept]
    for stored in orphans:
        await store.delete(stored.key)
    return len(orphans)


def _attachment_id(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key.rsplit("/", 1)[-1])
    except ValueError:
        return None


async def run_forever(
    store: BlobStore,
    sessionmaker: async_sessionmaker[AsyncSession],
    interval: float,
    min_age: timedelta,
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await sweep_once(store, sessionmaker, min_age)
        except Exception as exc:  # the store or the database may be away; next time then
            log.warning("orphan_sweep_failed", error=repr(exc))
            continue
        if removed:
            log.info("orphan_blobs_removed", count=removed)
