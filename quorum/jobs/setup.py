"""Wiring of the jobs for one process: the broker, the runner, sending, the sweeper.

A request writes its job's row in its own transaction (``repository.create``) and asks
``Jobs.send`` after the commit. Sending can fail (Redis away) or never happen (the
process died right after the commit): the sweeper finds queued jobs that nobody took
within ``QUORUM_JOB_RESEND_SECONDS``, and running ones whose lease expired, and sends
them again. A job sent twice is claimed once (quorum/jobs/runner.py).
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from taskiq import AsyncBroker

from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork
from quorum.jobs import broker as brokers
from quorum.jobs import metrics
from quorum.jobs import repository as repo
from quorum.jobs.files import ResultFiles
from quorum.jobs.models import JobState
from quorum.jobs.runner import PublishTransient, Runner
from quorum.settings import Settings
from quorum.storage.store import BlobStore

log = structlog.get_logger(__name__)
SWEEP_BATCH = 100


@dataclass
class Jobs:
    settings: Settings
    uow: UnitOfWork
    broker: AsyncBroker
    runner: Runner

    @property
    def files(self) -> ResultFiles:
        return self.runner.files

    @property
    def in_process(self) -> bool:
        """Jobs run in this process (no Redis): the server starts the broker itself."""
        return not self.settings.redis_url

    async def send(self, job_id: uuid.UUID) -> None:
        """After the commit: hand the job over. A failure is logged, not raised: the
        sweeper sends the job again."""
        try:
            await brokers.send(self.broker, job_id)
        except Exception as exc:
            log.warning("job_send_failed", job=str(job_id), error=repr(exc)[:200])

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.job_sweep_seconds)
            try:
                await self.sweep()
            except Exception as exc:  # the database may be away: the next sweep tries again
                log.warning("job_sweep_failed", error=repr(exc)[:200])

    async def sweep(self) -> None:
        now = utcnow()
        unsent_before = now - timedelta(seconds=self.settings.job_resend_seconds)
        async with self.uow.transaction() as session:
            due = await repo.due(session, unsent_before, now, SWEEP_BATCH)
            counts = await repo.count_by_state(session)
        for state in JobState:
            metrics.JOBS.labels(state).set(counts.get(state, 0))
        for job_id in due:
            log.info("job_resent", job=str(job_id))
            await self.send(job_id)


def create_jobs(
    settings: Settings, uow: UnitOfWork, publish_transient: PublishTransient, blobs: BlobStore
) -> Jobs:
    """``blobs``: where results go (the server's ``app.state.blobs``, a worker's own)."""
    runner = Runner(settings, uow, publish_transient, ResultFiles(blobs))
    return Jobs(settings, uow, brokers.create_broker(settings, runner.run), runner)
