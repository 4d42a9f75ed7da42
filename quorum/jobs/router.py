"""HTTP routes of the jobs (prefix /api/v1): ask for a report, follow a job, fetch its
result. A job is its requester's: anyone else is told it does not exist."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from starlette.responses import StreamingResponse

from quorum.api.deps import CurrentUserId, SessionDep
from quorum.api.idempotency import IdempotencyDep
from quorum.api.problems import (
    AUTH,
    DATABASE,
    IDEMPOTENT,
    JSON_BODY,
    STORAGE_UNAVAILABLE,
    VALIDATION_ERROR,
    problems,
)
from quorum.api.routing import TransactionalRoute
from quorum.decisions import rules
from quorum.decisions.access import EventMember
from quorum.decisions.problems import MEMBER
from quorum.errors import Conflict, NotFound
from quorum.jobs import report
from quorum.jobs import repository as repo
from quorum.jobs.models import Job, JobState
from quorum.jobs.problems import JOB_NOT_DONE, JOB_NOT_FOUND, RESULT_NOT_FOUND
from quorum.jobs.schemas import JobOut, ReportRequest
from quorum.jobs.setup import Jobs

router = APIRouter(route_class=TransactionalRoute, dependencies=[IdempotencyDep], tags=["jobs"])


async def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


JobsDep = Annotated[Jobs, Depends(_jobs)]


@router.post(
    "/events/{event_id}/reports",
    status_code=202,
    responses=problems(MEMBER, JSON_BODY, IDEMPOTENT),
)
async def request_report(
    body: ReportRequest,
    access: EventMember,
    session: SessionDep,
    jobs: JobsDep,
    background: BackgroundTasks,
) -> JobOut:
    """Ask for the event's decision report (any member): 202 with the job, which runs in
    the background. Follow it at ``/jobs/{id}`` or on the event's stream
    (``job.progress``, then ``job.completed`` or ``job.failed``); fetch the file at
    ``/jobs/{id}/result``. Counts hidden from members stay hidden in a member's report
    until the event closes; an anonymous event's report names no voter."""
    params = {"format": body.format, "sees_tallies": rules.sees_tallies(access.role)}
    job = await repo.create(session, report.KIND, access.event_id, access.user_id, params)
    background.add_task(jobs.send, job.id)  # after the commit and the reply
    return JobOut.of(job)


async def _my_job(session: SessionDep, user_id: CurrentUserId, job_id: uuid.UUID) -> Job:
    job = await repo.get_job(session, job_id)
    if job is None or job.requested_by != user_id:
        raise NotFound("job_not_found", "No such job (or it is not yours).")
    return job


MyJob = Annotated[Job, Depends(_my_job)]
JOB = (*AUTH, VALIDATION_ERROR, JOB_NOT_FOUND, DATABASE)


@router.get("/jobs/{job_id}", responses=problems(JOB))
async def get_job(job: MyJob) -> JobOut:
    """A job's state: queued, running (with ``percent``), done, or failed with ``reason``;
    ``attempts`` counts its runs."""
    return JobOut.of(job)


@router.get(
    "/jobs/{job_id}/result",
    response_class=StreamingResponse,
    responses=problems(JOB, JOB_NOT_DONE, RESULT_NOT_FOUND, STORAGE_UNAVAILABLE),
)
async def get_result(job: MyJob, jobs: JobsDep) -> StreamingResponse:
    """The job's file, streamed from the blob store (a report: Markdown, CSV or a
    self-contained HTML page)."""
    if job.state != JobState.DONE:
        raise Conflict("job_not_done", f"The job is {job.state}: its result is not ready.")
    fmt = str(job.params["format"])
    ext = report.extension(fmt)
    size = await jobs.files.size(job.id, ext)
    try:
        if size is None:
            raise FileNotFoundError
        chunks = await jobs.files.read(job.id, ext)
    except FileNotFoundError:
        raise NotFound("result_not_found", "The job's result is no longer stored.") from None
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="report-{job.event_id}.{ext}"',
    }
    return StreamingResponse(chunks, headers=headers, media_type=report.media_type(fmt))
