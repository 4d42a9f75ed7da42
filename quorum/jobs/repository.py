"""The jobs table's queries: create, claim, progress, finish, and the sweeper's reads.

Every change after the claim names the attempt it belongs to (``attempts``): a worker
whose lease expired and whose job was claimed again by another finds its writes match
no row, so only the current attempt can finish a job.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.base import utcnow
from quorum.db.repository import get
from quorum.jobs.models import Job, JobState


async def create(
    session: AsyncSession,
    kind: str,
    event_id: uuid.UUID,
    requested_by: uuid.UUID,
    params: dict[str, Any],
) -> Job:
    job = Job(kind=kind, event_id=event_id, requested_by=requested_by, params=params)
    job.state, job.percent, job.attempts = JobState.QUEUED, 0, 0
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await get(session, Job, Job.id == job_id)


async def claim(session: AsyncSession, job_id: uuid.UUID, lease: timedelta) -> Job | None:
    """Take the job for one more attempt: a queued job, or a running one whose lease has
    expired (its worker died). None if it is taken, finished, or gone."""
    now = utcnow()
    takeable = or_(
        Job.state == JobState.QUEUED,
        and_(Job.state == JobState.RUNNING, Job.lease_until < now),
    )
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, takeable)
        .values(
            state=JobState.RUNNING,
            attempts=Job.attempts + 1,
            started_at=now,
            lease_until=now + lease,
        )
        .returning(Job.id)
    )
    if result.scalar_one_or_none() is None:
        return None
    return await get(session, Job, Job.id == job_id)


def _current(job_id: uuid.UUID, attempt: int) -> Any:
    return and_(Job.id == job_id, Job.state == JobState.RUNNING, Job.attempts == attempt)


async def progress(
    session: AsyncSession, job_id: uuid.UUID, attempt: int, percent: int, lease: timedelta
) -> bool:
    """Record progress and extend the lease; False if the attempt is no longer current."""
    result = await session.execute(
        update(Job)
        .where(_current(job_id, attempt))
        .values(percent=percent, lease_until=utcnow() + lease)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    session: AsyncSession,
    job_id: uuid.UUID,
    attempt: int,
    state: JobState,
    reason: str | None = None,
) -> bool:
    """End the attempt: done, failed (with ``reason``), or queued again for a retry."""
    values: dict[str, Any] = {"state": state, "reason": reason, "lease_until": None}
    now = utcnow()
    if state == JobState.DONE:
        values["percent"] = 100
    if state in (JobState.DONE, JobState.FAILED):
        values["finished_at"] = now
    else:
        values["sent_at"] = now  # the sweeper sends it again after its pause
    result = await session.execute(update(Job).where(_current(job_id, attempt)).values(values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due(
    session: AsyncSession, unsent_before: datetime, now: datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Jobs to send again: queued and not taken since ``unsent_before``, or running with
    an expired lease. Marked sent now, so that the next sweep waits again."""
    stale = or_(
        and_(Job.state == JobState.QUEUED, Job.sent_at < unsent_before),
        and_(Job.state == JobState.RUNNING, Job.lease_until < now, Job.sent_at < unsent_before),
    )
    ids = (
        await session.scalars(select(Job.id).where(stale).order_by(Job.sent_at).limit(limit))
    ).all()
    if ids:
        await session.execute(update(Job).where(Job.id.in_(ids)).values(sent_at=now))
    return ids


async def count_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(Job.state, func.count()).group_by(Job.state))
    return {state: int(n) for state, n in rows.tuples()}
