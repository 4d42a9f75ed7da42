"""The ``snapshot`` of an event: its full current state, read in one consistent
transaction, tagged with the ``seq`` it reflects (the event's ``last_seq`` in the same
snapshot), so a client resumes exactly after it. It holds every count; the stream
projects it for its audience (quorum/decisions/projection.py)."""

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from quorum.db.uow import read_only
from quorum.decisions import events, rules, views
from quorum.decisions import repository as repo
from quorum.decisions.schemas import EventOut, MembershipOut, ProposalOut
from quorum.realtime.message import Message
from quorum.realtime.stream import Snapshot


def snapshot_reader(sessionmaker: async_sessionmaker[AsyncSession]) -> Snapshot:
    async def snapshot(event_id: uuid.UUID) -> Message:
        async with read_only(sessionmaker, consistent=True) as session:
            event = await repo.get_event(session, event_id, people=True)
            proposals = await repo.all_proposals(session, event_id)
            members = await repo.current_memberships(session, event_id)
            hidden = rules.tally_hidden(event.hidden_tallies, event.status)
            state = events.Snapshot(
                event=views.event_of(EventOut, event),
                proposals=[
                    views.proposal_of(ProposalOut, p, tally_hidden=hidden) for p in proposals
                ],
                memberships=[views.membership_of(MembershipOut, m) for m in members],
            )
            type_, data = state.entry()
            return Message.build(event_id, event.last_seq, type_, data, time.time())

    return snapshot
