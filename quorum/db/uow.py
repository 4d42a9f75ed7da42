"""The unit of work: the one place where Quorum commits.

Services and repositories only ``flush()``. A request (or a job, or a CLI command) runs
inside ``transaction()``; leaving the block normally commits, any exception rolls
everything back, the idempotency record included. Callbacks registered with
``after_commit`` run only once the commit has succeeded, which is where the real-time
hub publishes: an event is never announced for a change that did not happen.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.db.metrics import ROLLBACKS

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT = "quorum.after_commit"
READ_ONLY = "quorum_read_only"  # connection execution option; see quorum/db/engine.py
log = structlog.get_logger(__name__)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            ROLLBACKS.inc()
            await session.rollback()
            raise
        callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # the change is committed; a failed notification must not undo the reply
            log.exception("after_commit_failed")


@asynccontextmanager
async def read_only(
    sessionmaker: async_sessionmaker[AsyncSession], *, consistent: bool = False
) -> AsyncIterator[AsyncSession]:
    """A session for reads only: never commits, and on SQLite does not take the write
    lock (a plain deferred BEGIN instead of BEGIN IMMEDIATE). ``consistent``: every
    statement sees the same snapshot (REPEATABLE READ on PostgreSQL; a SQLite read
    transaction always does)."""
    async with sessionmaker() as session:
        options: dict[str, object] = {READ_ONLY: True}
        if consistent and session.get_bind().dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        await session.connection(execution_options=options)
        try:
            yield session
        finally:
            await session.rollback()
