"""Waiting for the database instead of dying without it.

The seeds exit when the database is down at start; an orchestrator then restarts the
process in a loop. Quorum starts anyway, answers 503 while the database is away, and
keeps trying with exponential backoff, so it serves as soon as the database is back.
"""

import asyncio

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

PING_TIMEOUT_SECONDS = 3.0


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not reachable now"; the reason is logged
        log.debug("database_ping_failed", error=repr(exc)[:200])
        return False
    return True


async def wait_for_database(
    engine: AsyncEngine, max_delay: float, first_delay: float = 0.25
) -> None:
    delay = first_delay
    attempt = 1
    while not await ping(engine):
        log.warning("database_unreachable", attempt=attempt, retry_in=round(delay, 2))
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
        attempt += 1
    log.info("database_ready", attempts=attempt)
