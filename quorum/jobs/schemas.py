"""The jobs API's shapes."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from quorum.jobs.models import Job, JobState

ReportFormat = Literal["markdown", "csv", "html"]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ReportFormat = "markdown"


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    event_id: uuid.UUID
    state: JobState
    percent: int
    attempts: int
    reason: str | None
    format: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result_url: str | None  # once done: where the file is served

    @classmethod
    def of(cls, job: Job) -> "JobOut":
        done = job.state == JobState.DONE
        return cls(
            id=job.id,
            kind=job.kind,
            event_id=job.event_id,
            state=JobState(job.state),
            percent=job.percent,
            attempts=job.attempts,
            reason=job.reason,
            format=str(job.params.get("format")) if job.params.get("format") else None,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            result_url=f"/api/v1/jobs/{job.id}/result" if done else None,
        )
