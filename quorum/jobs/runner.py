"""Runs one job by id: claim, work with throttled progress, finish, tell the stream.

Duplicates do no harm: a job is claimed before any work (``repository.claim``), so a
second delivery of a job that runs or has finished does nothing. A job whose worker
died is claimed again once its lease has expired (the lease is extended with each
progress report). Each attempt's writes name the attempt, so an attempt that was
superseded stops at its next progress report and cannot finish the job.

Outcomes reach the event's stream as logged entries (``job.completed``,
``job.failed``), written in the transaction that records them; progress goes as
transient ``job.progress`` messages, at most one per ``PROGRESS_INTERVAL`` per job.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from quorum.db.base import utcnow
from quorum.db.uow import UnitOfWork
from quorum.decisions.events import JobCompleted, JobFailed, JobProgress, Payload
from quorum.decisions.repository import append_log, event_deleted
from quorum.jobs import metrics, report
from quorum.jobs import repository as repo
from quorum.jobs.files import ResultFiles
from quorum.jobs.models import JobState
from quorum.settings import Settings

log = structlog.get_logger(__name__)
PROGRESS_INTERVAL = 0.25  # seconds: at most four progress messages a second per job
PublishTransient = Callable[[uuid.UUID, str, Any], Awaitable[None]]


class Superseded(Exception):
    """This attempt's lease expired and another attempt took the job: stop."""


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    kind: str
    event_id: uuid.UUID
    requested_by: uuid.UUID
    params: dict[str, Any]
    attempt: int
    waited_since: datetime


def result_url(job_id: uuid.UUID) -> str:
    return f"/api/v1/jobs/{job_id}/result"


class Runner:
    def __init__(
        self,
        settings: Settings,
        uow: UnitOfWork,
        publish_transient: PublishTransient,
        files: ResultFiles,
    ) -> None:
        self._settings = settings
        self._uow = uow
        self._publish_transient = publish_transient
        self.files = files
        self._lease = timedelta(seconds=settings.job_redeliver_seconds)

    async def run(self, job_id: str) -> None:
        """The broker's task: run the job, unless another worker has it or it is over."""
        job = await self._claim(uuid.UUID(job_id))
        if job is None:
            return
        if job.attempt > self._settings.job_max_attempts:
            await self._end(job, JobState.FAILED, "gave up: its worker stopped every attempt")
            return
        started = time.monotonic()
        try:
            await self._work(job)
        except Superseded:
            return
        except report.ReportFailed as exc:
            await self._end(job, JobState.FAILED, str(exc))
        except Exception as exc:
            log.exception("job_attempt_failed", job=job_id, attempt=job.attempt)
            last = job.attempt >= self._settings.job_max_attempts
            reason = f"{type(exc).__name__}: {exc}"[:500]
            await self._end(job, JobState.FAILED if last else JobState.QUEUED, reason)
        else:
            await self._end(job, JobState.DONE)
        finally:
            metrics.RUN_TIME.observe(time.monotonic() - started)

    async def _claim(self, job_id: uuid.UUID) -> Claimed | None:
        async with self._uow.transaction() as session:
            row = await repo.get_job(session, job_id)
            waited_since = row.sent_at if row is not None else utcnow()
            job = await repo.claim(session, job_id, self._lease)
            if job is None:
                return None
            claimed = Claimed(
                job.id, job.kind, job.event_id, job.requested_by, dict(job.params),
                job.attempts, waited_since,
            )  # fmt: skip
        metrics.TRANSITIONS.labels(JobState.RUNNING).inc()
        metrics.QUEUE_WAIT.observe(max((utcnow() - claimed.waited_since).total_seconds(), 0))
        return claimed

    async def _work(self, job: Claimed) -> None:
        progress = _Progress(self, job)
        await report.make_report(
            self._uow.sessionmaker, self.files, job.id, job.event_id, job.params, progress,
            page_size=self._settings.report_page_size,
            step_delay=self._settings.job_step_delay_seconds,
        )  # fmt: skip

    async def report_progress(self, job: Claimed, percent: int) -> None:
        async with self._uow.transaction() as session:
            current = await repo.progress(session, job.id, job.attempt, percent, self._lease)
        if not current:
            raise Superseded
        payload = JobProgress(id=job.id, kind=job.kind, percent=percent)
        try:
            await self._publish_transient(
                job.event_id, payload.TYPE, payload.model_dump(mode="json")
            )
        except Exception as exc:  # progress is a courtesy: the job goes on
            log.warning("job_progress_not_published", error=repr(exc)[:200])

    async def _end(self, job: Claimed, state: JobState, reason: str | None = None) -> None:
        """Record the attempt's end and, for an outcome, log it on the event's stream, in
        one transaction: the entry exists if and only if the job ended so."""
        async with self._uow.transaction() as session:
            if not await repo.finish(session, job.id, job.attempt, state, reason):
                return  # superseded meanwhile
            outcome = _outcome(job, state, reason)
            # A deleted event's log ends with ``event.deleted``: nothing may follow it.
            if outcome is not None and not await event_deleted(session, job.event_id):
                await append_log(session, job.event_id, [outcome.entry()], require_open=False)
        metrics.TRANSITIONS.labels(state).inc()


def _outcome(job: Claimed, state: JobState, reason: str | None) -> Payload | None:
    common = {"id": job.id, "kind": job.kind, "requested_by": job.requested_by}
    if state == JobState.DONE:
        return JobCompleted(**common, attempts=job.attempt, result_url=result_url(job.id))
    if state == JobState.FAILED:
        return JobFailed(**common, attempts=job.attempt, reason=reason or "failed")
    return None  # queued again: the sweeper sends it for its next attempt


class _Progress:
    """The job's progress callback, throttled; the first and the last report always go."""

    def __init__(self, runner: Runner, job: Claimed) -> None:
        self._runner = runner
        self._job = job
        self._last = float("-inf")

    async def __call__(self, percent: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_INTERVAL and percent < 100:
            return
        self._last = now
        await self._runner.report_progress(self._job, min(max(percent, 0), 100))
