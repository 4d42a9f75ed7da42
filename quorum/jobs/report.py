"""The decision report job: read the event in pages, write the chosen format.

Progress is reported as a share of the proposals written (then of the charts drawn);
the reporter throttles what reaches the stream. Whether vote counts show is decided
when the report runs: by the requester's role (``sees_tallies``, fixed at the request)
and by the event's state then (hidden tallies show once it has closed).
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.db.base import utcnow
from quorum.decisions import rules
from quorum.decisions.models import ProposalStatus
from quorum.jobs.files import ResultFiles
from quorum.jobs.render import RENDERERS, Renderer
from quorum.jobs.report_data import ReportSource

KIND = "report"
FORMATS = tuple(RENDERERS)
CHART_BUCKETS = 60
Progress = Callable[[int], Awaitable[None]]


class ReportFailed(Exception):
    """The report cannot be made (its event is gone): not worth another attempt."""


def extension(fmt: str) -> str:
    return RENDERERS[fmt].extension


def media_type(fmt: str) -> str:
    return RENDERERS[fmt].media_type


async def make_report(
    sessionmaker: async_sessionmaker[AsyncSession],
    files: ResultFiles,
    job_id: uuid.UUID,
    event_id: uuid.UUID,
    params: dict[str, object],
    progress: Progress,
    *,
    page_size: int,
    step_delay: float = 0.0,
) -> None:
    fmt = str(params["format"])
    source = ReportSource(sessionmaker, event_id, page_size)
    event = await source.event()
    if event is None:
        raise ReportFailed("the event was deleted")
    show = bool(params.get("sees_tallies")) or not rules.tally_hidden(
        event.hidden_tallies, event.status
    )
    total = await source.proposal_count()
    accepted: list[tuple[uuid.UUID, str]] = []
    async with files.writer(job_id, extension(fmt)) as out:
        report: Renderer = RENDERERS[fmt](out, show)
        report.start(event)
        done = 0
        await progress(0)
        async for page in source.proposals():
            for row in page:
                report.proposal(row)
                if row.status == ProposalStatus.ACCEPTED:
                    accepted.append((row.id, row.title))
            done += len(page)
            await progress(done * 80 // max(total, 1))
            await asyncio.sleep(step_delay)
        async for decisions in source.decisions():
            for decision in decisions:
                report.decision(decision)
        if show and fmt == "html":
            end = event.closed_at or utcnow()
            for i, (proposal_id, title) in enumerate(accepted):
                buckets = await _cumulative(source, proposal_id, event.created_at, end)
                report.chart(title, buckets, event.created_at, end)
                await progress(80 + (i + 1) * 19 // len(accepted))
        report.end()


async def _cumulative(
    source: ReportSource, proposal_id: uuid.UUID, start: datetime, end: datetime
) -> list[int]:
    """The running vote total at the end of each of ``CHART_BUCKETS`` slices of time."""
    span = max((end - start).total_seconds(), 1e-6)
    counts = [0] * CHART_BUCKETS
    async for times in source.vote_times(proposal_id):
        for t in times:
            i = int((t - start).total_seconds() / span * CHART_BUCKETS)
            counts[min(max(i, 0), CHART_BUCKETS - 1)] += 1
    running, total = [], 0
    for n in counts:
        total += n
        running.append(total)
    return running
