"""Queries of the decisions domain. Only ``flush()`` here; the unit of work commits."""

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, and_, case, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quorum.api.pagination import PageParams
from quorum.db.base import utcnow
from quorum.decisions import rules
from quorum.decisions.models import (
    AUTO,
    Comment,
    Event,
    EventStatus,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalStatus,
    Vote,
)
from quorum.errors import Conflict, NotFound
from quorum.realtime import log


class Access(NamedTuple):
    event_status: str
    vote_threshold: int | None
    role: str | None
    membership_status: str | None


async def access(session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID) -> Access | None:
    """The event and the caller's membership of it, in one round trip."""
    row = (
        await session.execute(
            select(Event.status, Event.vote_threshold, Membership.role, Membership.status)
            .outerjoin(
                Membership, and_(Membership.event_id == Event.id, Membership.user_id == user_id)
            )
            .where(Event.id == event_id)
        )
    ).one_or_none()
    return Access(*row) if row is not None else None


M = TypeVar("M", Event, Membership, Proposal, Comment)


def _page(query: Select[M], id_column: Any, params: PageParams, *, newest_first: bool) -> Select[M]:
    if params.after is not None:
        query = query.where(id_column < params.after if newest_first else id_column > params.after)
    order = id_column.desc() if newest_first else id_column.asc()
    return query.order_by(order).limit(params.limit + 1)


async def append_log(
    session: AsyncSession,
    event_id: uuid.UUID,
    entries: Sequence[tuple[str, dict[str, Any]]],
    *,
    require_open: bool = True,
) -> int:
    """Number ``entries`` in the event's log, in this transaction; the event row stays locked
    until commit, which is what keeps the log gap-free in commit order."""
    stmt = update(Event).where(Event.id == event_id)
    if require_open:
        stmt = stmt.where(Event.status == EventStatus.OPEN)
    last_seq = await session.scalar(
        stmt.values(last_seq=Event.last_seq + len(entries))
        .returning(Event.last_seq)
        .execution_options(synchronize_session=False)
    )
    if last_seq is None:
        raise Conflict("event_closed", "The event is closed: it accepts no changes.")
    await log.append(session, event_id, last_seq, entries)
    return last_seq


# -- events -----------------------------------------------------------------------------


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.get(Event, event_id)
    if event is None:
        raise NotFound("event_not_found", "No such event.")
    return event


async def list_events(
    session: AsyncSession, user_id: uuid.UUID, status: str | None, q: str | None, params: PageParams
) -> Sequence[Event]:
    query = (
        select(Event)
        .join(Membership, Membership.event_id == Event.id)
        .where(Membership.user_id == user_id, Membership.status == MembershipStatus.APPROVED)
    )
    if status is not None:
        query = query.where(Event.status == status)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Event.title).like(f"%{escaped.lower()}%", escape="\\"))
    return (await session.scalars(_page(query, Event.id, params, newest_first=True))).all()


# -- memberships ------------------------------------------------------------------------


async def get_membership_for_update(
    session: AsyncSession, event_id: uuid.UUID, membership_id: uuid.UUID
) -> Membership:
    membership = await session.scalar(
        select(Membership)
        .where(Membership.id == membership_id, Membership.event_id == event_id)
        .with_for_update()
    )
    if membership is None:
        raise NotFound("membership_not_found", "No such membership in this event.")
    return membership


async def list_memberships(
    session: AsyncSession, event_id: uuid.UUID, status: str | None, params: PageParams
) -> Sequence[Membership]:
    query = select(Membership).where(Membership.event_id == event_id)
    if status is not None:
        query = query.where(Membership.status == status)
    return (await session.scalars(_page(query, Membership.id, params, newest_first=False))).all()


# -- proposals --------------------------------------------------------------------------


async def get_proposal(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
) -> Proposal:
    """``for_update`` before deciding on it; ``for_share`` to keep its status still while
    attaching something to it."""
    query = select(Proposal).where(Proposal.id == proposal_id, Proposal.event_id == event_id)
    if for_update or for_share:
        query = query.with_for_update(read=for_share and not for_update)
    proposal = await session.scalar(query)
    if proposal is None:
        raise NotFound("proposal_not_found", "No such proposal in this event.")
    return proposal


async def list_proposals(
    session: AsyncSession,
    event_id: uuid.UUID,
    kind: str | None,
    status: str | None,
    params: PageParams,
) -> Sequence[Proposal]:
    query = select(Proposal).where(Proposal.event_id == event_id)
    if kind is not None:
        query = query.where(Proposal.kind == kind)
    if status is not None:
        query = query.where(Proposal.status == status)
    return (await session.scalars(_page(query, Proposal.id, params, newest_first=True))).all()


async def _proposal_status(
    session: AsyncSession, event_id: uuid.UUID, proposal_id: uuid.UUID
) -> str:
    return (await get_proposal(session, event_id, proposal_id)).status


async def count_vote(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    delta: int,
    threshold: int | None,
) -> Proposal:
    """Add ``delta`` to the proposal's vote count while it is votable, accepting it when
    the count reaches ``threshold``. One conditional UPDATE: the row lock it takes makes
    concurrent votes count one at a time, and only the vote that reaches the threshold
    sees the proposal still PENDING, so it is accepted exactly once."""
    values: dict[str, Any] = {"vote_count": Proposal.vote_count + delta}
    if threshold is not None and delta > 0:
        accepts = Proposal.vote_count + delta >= threshold
        values |= {
            "status": case(
                (accepts, literal(ProposalStatus.ACCEPTED.value)), else_=Proposal.status
            ),
            "decided_by": case((accepts, literal(AUTO)), else_=Proposal.decided_by),
            "decided_at": case(
                (accepts, literal(utcnow(), Proposal.decided_at.type)), else_=Proposal.decided_at
            ),
        }
    row = await session.scalar(
        update(Proposal)
        .where(
            Proposal.id == proposal_id,
            Proposal.event_id == event_id,
            Proposal.status == rules.VOTABLE,
        )
        .values(values)
        .returning(Proposal)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if row is None:
        status = await _proposal_status(session, event_id, proposal_id)  # raises if absent
        raise Conflict(
            "proposal_not_pending", f"The proposal is {status}: votes count only while PENDING."
        )
    return row


async def delete_vote(session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    result = await session.scalar(
        delete(Vote)
        .where(Vote.proposal_id == proposal_id, Vote.user_id == user_id)
        .returning(Vote.user_id)
    )
    return result is not None


# -- comments ---------------------------------------------------------------------------


async def list_comments(
    session: AsyncSession, proposal_id: uuid.UUID, params: PageParams, *, newest_first: bool = False
) -> Sequence[Comment]:
    query = (
        select(Comment)
        .where(Comment.proposal_id == proposal_id)
        .options(selectinload(Comment.author))
    )
    return (
        await session.scalars(_page(query, Comment.id, params, newest_first=newest_first))
    ).all()
