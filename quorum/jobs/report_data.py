"""What a decision report reads, in keyset pages: never a whole table in memory.

Proposals come ordered by (kind, status, id), so the report's groups arrive one after
the other; each page brings its comment counts in one query. The decision timeline
reads the event log by ``seq``; the votes of an accepted proposal are read by
(created_at, user_id) only to be counted into time buckets for the chart.
"""

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from quorum.accounts.models import User
from quorum.db.uow import read_only
from quorum.decisions.models import Comment, Event, Proposal, ProposalStatus, Vote
from quorum.realtime.log import LogEntry

DECISION_TYPES = ("proposal.updated", "event.updated")


@dataclass(frozen=True)
class ProposalRow:
    id: uuid.UUID
    kind: str
    status: str
    title: str
    author: str
    vote_count: int
    decided_by: str  # "auto (threshold)", a person's name, or ""
    decided_at: datetime | None
    comments: int


@dataclass(frozen=True)
class Decision:
    at: datetime
    what: str


class ReportSource:
    """Reads for one event, each page in its own short read-only transaction."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID, page: int
    ) -> None:
        self._sessionmaker = sessionmaker
        self.event_id = event_id
        self.page = page

    async def event(self) -> Event | None:
        async with read_only(self._sessionmaker) as session:
            query = select(Event).where(Event.id == self.event_id, Event.deleted_at.is_(None))
            event = await session.scalar(query)
            if event is not None:
                session.expunge(event)  # kept as read: the rollback would expire it
            return event

    async def proposal_count(self) -> int:
        async with read_only(self._sessionmaker) as session:
            query = select(func.count()).where(*self._live_proposals())
            return int(await session.scalar(query) or 0)

    def _live_proposals(self) -> tuple[Any, ...]:
        return (Proposal.event_id == self.event_id, Proposal.status != ProposalStatus.DELETED)

    async def proposals(self) -> AsyncIterator[Sequence[ProposalRow]]:
        """Pages of the event's proposals (deleted ones left out), by kind, status, id."""
        after: tuple[str, str, uuid.UUID] | None = None
        while True:
            async with read_only(self._sessionmaker) as session:
                rows = await self._proposal_page(session, after)
            if not rows:
                return
            yield rows
            last = rows[-1]
            after = (last.kind, last.status, last.id)
            if len(rows) < self.page:
                return

    async def _proposal_page(
        self, session: AsyncSession, after: tuple[str, str, uuid.UUID] | None
    ) -> list[ProposalRow]:
        author, decider = aliased(User), aliased(User)
        key = tuple_(Proposal.kind, Proposal.status, Proposal.id)
        query = (
            select(Proposal, author.display_name, decider.display_name)
            .join(author, author.id == Proposal.author_id)
            .outerjoin(decider, decider.id == Proposal.decided_by_id)
            .where(*self._live_proposals())
            .order_by(Proposal.kind, Proposal.status, Proposal.id)
            .limit(self.page)
        )
        if after is not None:
            query = query.where(key > tuple_(*after))
        found = (await session.execute(query)).tuples().all()
        ids = [p.id for p, _, _ in found]
        comments = await session.execute(
            select(Comment.proposal_id, func.count())
            .where(Comment.proposal_id.in_(ids), Comment.deleted_at.is_(None))
            .group_by(Comment.proposal_id)
        )
        counts = {proposal_id: n for proposal_id, n in comments.tuples()}
        return [
            ProposalRow(
                p.id,
                p.kind,
                p.status,
                p.title,
                author_name,
                p.vote_count,
                "auto (threshold)" if p.decided_automatically else (decider_name or ""),
                p.decided_at,
                int(counts.get(p.id, 0)),
            )
            for p, author_name, decider_name in found
        ]

    async def decisions(self) -> AsyncIterator[Sequence[Decision]]:
        """Pages of the decision timeline, oldest first, from the event log."""
        after = 0
        while True:
            async with read_only(self._sessionmaker) as session:
                entries = (
                    await session.scalars(
                        select(LogEntry)
                        .where(LogEntry.topic_id == self.event_id, LogEntry.seq > after)
                        .where(LogEntry.type.in_(DECISION_TYPES))
                        .order_by(LogEntry.seq)
                        .limit(self.page)
                    )
                ).all()
                # Read inside the transaction: its end expires the rows.
                decided = [d for d in map(_decision, entries) if d is not None]
                count, last = len(entries), entries[-1].seq if entries else after
            if decided:
                yield decided
            if count < self.page:
                return
            after = last

    async def vote_times(self, proposal_id: uuid.UUID) -> AsyncIterator[Sequence[datetime]]:
        """Pages of when each vote of a proposal was cast, oldest first (no voter)."""
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with read_only(self._sessionmaker) as session:
                query = (
                    select(Vote.created_at, Vote.user_id)
                    .where(Vote.proposal_id == proposal_id)
                    .order_by(Vote.created_at, Vote.user_id)
                    .limit(self.page)
                )
                if after is not None:
                    query = query.where(tuple_(Vote.created_at, Vote.user_id) > tuple_(*after))
                rows = (await session.execute(query)).tuples().all()
            if not rows:
                return
            yield [t for t, _ in rows]
            after = rows[-1]
            if len(rows) < self.page:
                return


def _decision(entry: LogEntry) -> Decision | None:
    """A log entry as a line of the timeline, if it decided something."""
    data = entry.data
    if entry.type == "event.updated":
        closed_by = data.get("closed_by")
        if closed_by is None:
            return None
        who = "its deadline" if closed_by.get("kind") == "deadline" else _who(data, closed_by)
        return Decision(entry.created_at, f"Event closed by {who}")
    status = data.get("status")
    if status in (None, ProposalStatus.PENDING) or data.get("decided_at") is None:
        return None
    decided_by = data.get("decided_by") or {}
    auto = decided_by.get("kind") == "auto"
    by = "the threshold" if auto else decided_by.get("display_name") or "someone"
    return Decision(entry.created_at, f"{data.get('title')!s}: {status} by {by}")


def _who(data: dict[str, Any], closed_by: dict[str, Any]) -> str:
    return str(closed_by.get("display_name") or closed_by.get("id") or "an admin")
