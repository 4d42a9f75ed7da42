"""Periodic housekeeping of one process: event-log retention, expired idempotency keys
and expired login sessions. Every instance may run it; the deletes are idempotent."""

import asyncio

import structlog

from quorum.accounts.repository import purge_expired_sessions
from quorum.db.uow import UnitOfWork
from quorum.idempotency.repository import purge_expired
from quorum.realtime import log as event_log
from quorum.settings import Settings

log = structlog.get_logger(__name__)


async def run_once(settings: Settings, uow: UnitOfWork) -> None:
    async with uow.transaction() as session:
        pruned = await event_log.prune(
            session,
            keep_last=settings.log_retention_count,
            max_age_seconds=settings.log_retention_seconds,
        )
        expired = await purge_expired(session, settings.idempotency_ttl_seconds)
        sessions = await purge_expired_sessions(session)
    if pruned or expired or sessions:
        log.info(
            "maintenance",
            log_entries_pruned=pruned,
            idempotency_keys_purged=expired,
            sessions_purged=sessions,
        )


async def run_forever(settings: Settings, uow: UnitOfWork) -> None:
    while True:
        await asyncio.sleep(settings.maintenance_interval_seconds)
        try:
            await run_once(settings, uow)
        except Exception as exc:  # the database may be away; try again next time
            log.warning("maintenance_failed", error=repr(exc)[:200])
