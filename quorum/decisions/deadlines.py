"""The deadline sweeper: closes events whose ``closes_at`` has come.

Every instance runs it. Each due event is closed in a transaction of its own by a
conditional UPDATE (still OPEN, deadline passed) followed by its log entry, under the
event row's lock: when two instances find the same event due, the second one's UPDATE
waits for the first to commit, then matches no row, so the event is closed and logged
exactly once. The query that finds due events is only a hint; the UPDATE decides.
"""

import asyncio

import structlog

from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork
from quorum.decisions import repository as repo
from quorum.decisions import service

log = structlog.get_logger(__name__)
BATCH = 100  # due events closed per sweep; the rest wait for the next one


async def sweep(uow: UnitOfWork) -> int:
    """Close the events that are due now; how many this instance closed."""
    async with uow.transaction() as session:
        due = await repo.due_events(session, utcnow(), BATCH)
    closed = 0
    for event_id in due:
        async with uow.transaction() as session:
            if await service.close_at_deadline(session, event_id) is not None:
                closed += 1
    return closed


async def run_forever(interval: float, uow: UnitOfWork) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            closed = await sweep(uow)
        except Exception as exc:  # the database may be away; try again next time
            log.warning("deadline_sweep_failed", error=repr(exc)[:200])
        else:
            if closed:
                log.info("events_closed_at_deadline", count=closed)
