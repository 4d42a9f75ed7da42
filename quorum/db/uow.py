"""The unit of work: the one place where Quorum commits.

Services and repositories only ``flush()``. A request (or a job, or a CLI command) runs
inside ``UnitOfWork.transaction()``; leaving the block normally commits, any exception
rolls everything back, the idempotency record included.

The event log is the transaction's outbox: ``realtime.log.append`` writes its entries in
the transaction and ``stage``s them on it. Once the commit has succeeded, the unit of
work hands the staged entries, in the order they were numbered, to the publisher it was
built with (the application's real-time core); after a rollback they are dropped with
the rest. An event is never announced for a change that did not happen.
``after_commit`` does the same for any other announcement (the end of login sessions).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.db.metrics import ROLLBACKS
from quorum.realtime.message import Entry

Publisher = Callable[[Sequence[Entry]], Awaitable[None]]
AfterCommit = Callable[[], Awaitable[None]]
_STAGED = "quorum.staged"  # session.info key: this transaction's own log entries
_AFTER = "quorum.after_commit"  # session.info key: what to run once it has committed
READ_ONLY = "quorum_read_only"  # connection execution option; see quorum/db/engine.py
log = structlog.get_logger(__name__)


def stage(session: AsyncSession, entries: Sequence[Entry]) -> None:
    """Publish ``entries``, written in ``session``'s transaction, once it commits."""
    session.info.setdefault(_STAGED, []).extend(entries)


def after_commit(session: AsyncSession, action: AfterCommit) -> None:
    """Run ``action`` once ``session``'s transaction has committed; never after a
    rollback. A failure is logged: the change is committed whatever it does."""
    session.info.setdefault(_AFTER, []).append(action)


class UnitOfWork:
    """Transactions on ``sessionmaker``. ``publisher`` receives what each one staged,
    after its commit; without one (a CLI command, which has no hub) staged entries are
    only in the log, where every running server's hub finds them."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], publisher: Publisher | None = None
    ) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                ROLLBACKS.inc()
                await session.rollback()
                raise
            finally:
                staged: list[Entry] = session.info.pop(_STAGED, [])
                actions: list[AfterCommit] = session.info.pop(_AFTER, [])
        if staged and self.publisher is not None:
            await _after_commit(self.publisher(staged))
        for action in actions:
            await _after_commit(action())


async def _after_commit(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:  # the change is committed: a failed publish must not undo the reply
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
