"""Queries and row locks of the decisions domain. Only ``flush()`` here; the unit of work
commits. The conditions of its conditional UPDATEs (votable, the threshold, an open
event) are decision rules: quorum/decisions/rules.py builds them."""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, case, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quorum.accounts.models import LoginSession
from quorum.db.base import utcnow, uuid7
from quorum.db.insert import insert_unless_exists
from quorum.db.repository import PageParams, Rows, fetch_page, get, paginate
from quorum.decisions import rules
from quorum.decisions.models import (
    AUTO,
    Comment,
    Event,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalStatus,
    Role,
    Vote,
)
from quorum.errors import NotFound
from quorum.realtime import log
from quorum.realtime.log import LogEntry

_events = cast(Table, Event.__table__)
_memberships = cast(Table, Membership.__table__)
_proposals = cast(Table, Proposal.__table__)
_sessions = cast(Table, LoginSession.__table__)


class Access(NamedTuple):
    event_status: str
    vote_threshold: int | None
    role: str | None
    membership_status: str | None
    session_live: bool  # the caller's token's login session exists and has not expired


_ACCESS = (
    select(
        _events.c.status,
        _events.c.vote_threshold,
        _memberships.c.role,
        _memberships.c.status,
        _sessions.c.id,
    )
    .select_from(
        _events.outerjoin(
            _memberships,
            and_(
                _memberships.c.event_id == _events.c.id,
                _memberships.c.user_id == bindparam("user_id"),
            ),
        ).outerjoin(
            _sessions,
            and_(
                _sessions.c.id == bindparam("sid"),
                _sessions.c.user_id == bindparam("user_id"),
                _sessions.c.expires_at > bindparam("now", type_=_sessions.c.expires_at.type),
            ),
        )
    )
    .where(_events.c.id == bindparam("event_id"))
)


async def access(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID
) -> Access | None:
    """The event, the caller's membership of it and whether the caller's login session is
    live, in one round trip. Every event-scoped request runs this, so the statement is
    built once and run on the Core connection."""
    connection = await session.connection()
    params = {"event_id": event_id, "user_id": user_id, "sid": session_id, "now": utcnow()}
    row = (await connection.execute(_ACCESS, params)).one_or_none()
    if row is None:
        return None
    status, threshold, role, membership_status, live_session = row
    return Access(status, threshold, role, membership_status, live_session is not None)


# -- the event log ----------------------------------------------------------------------

# The event log's counter (quorum/realtime/log.py): the event row's ``last_seq``. It also
# returns the threshold, read under the event row's lock: see ``Counted``.
_COUNTER = log.Counter(
    _events, key=_events.c.id, seq=_events.c.last_seq, returning=(_events.c.vote_threshold,)
)
_COUNTER_IF_OPEN = replace(_COUNTER, guard=rules.accepts_changes_sql(_events.c.status))


class Counted(NamedTuple):
    """The event row as the log's counter left it (the columns of ``_COUNTER``, in order).
    ``vote_threshold`` is the latest committed one: a threshold change commits under the
    same row lock, so a vote that read an older threshold at its start learns the current
    one here."""

    last_seq: int
    vote_threshold: int | None


async def append_log(
    session: AsyncSession,
    event_id: uuid.UUID,
    entries: Sequence[tuple[str, dict[str, Any]]],
    *,
    require_open: bool = True,
) -> Counted:
    """Number ``entries`` in the event's log, in this transaction; the event row stays locked
    until commit, which is what keeps the log gap-free in commit order. The same UPDATE
    checks that the event still accepts changes (unless ``require_open`` is False: the
    event's own update), so no change slips into a closed event."""
    row = await log.append(
        session, event_id, entries, _COUNTER_IF_OPEN if require_open else _COUNTER
    )
    if row is None:
        raise rules.event_closed()
    return Counted._make(row)


async def read_log(
    session: AsyncSession, event_id: uuid.UUID, after: int, limit: int
) -> Rows[LogEntry, int]:
    """A page of the event's log after ``seq`` ``after``, oldest first."""
    return await fetch_page(
        lambda n: log.read(session, event_id, after, n), limit, lambda entry: entry.seq
    )


# -- events -----------------------------------------------------------------------------


async def get_event(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> Event:
    event = await get(session, Event, Event.id == event_id, for_update=for_update)
    if event is None:
        raise NotFound("event_not_found", "No such event.")
    return event


async def list_events(
    session: AsyncSession, user_id: uuid.UUID, status: str | None, q: str | None, params: PageParams
) -> Rows[Event, uuid.UUID]:
    query = (
        select(Event)
        .join(Membership, Membership.event_id == Event.id)
        .where(Membership.user_id == user_id, rules.is_member_sql(Membership.status))
    )
    if status is not None:
        query = query.where(Event.status == status)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Event.title).like(f"%{escaped.lower()}%", escape="\\"))
    return await paginate(session, query, Event.id, params, newest_first=True)


# -- memberships ------------------------------------------------------------------------


async def get_membership(
    session: AsyncSession,
    event_id: uuid.UUID,
    membership_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Membership:
    membership = await get(
        session,
        Membership,
        Membership.id == membership_id,
        Membership.event_id == event_id,
        for_update=for_update,
    )
    if membership is None:
        raise NotFound("membership_not_found", "No such membership in this event.")
    return membership


async def add_membership(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, role: Role, status: str
) -> Membership | None:
    """The new membership, or None if the user already has one (or a request): the UNIQUE
    key decides, between concurrent requests too."""
    membership_id = uuid7()
    if not await insert_unless_exists(
        session,
        Membership,
        id=membership_id,
        event_id=event_id,
        user_id=user_id,
        role=role,
        status=status,
        created_at=utcnow(),
    ):
        return None
    return await session.get_one(Membership, membership_id)


async def list_memberships(
    session: AsyncSession, event_id: uuid.UUID, status: str | None, params: PageParams
) -> Rows[Membership, uuid.UUID]:
    query = select(Membership).where(Membership.event_id == event_id)
    if status is not None:
        query = query.where(Membership.status == status)
    return await paginate(session, query, Membership.id, params)


async def current_memberships(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Membership]:
    """Every membership and request of the event but the rejected ones, oldest first."""
    return (
        await session.scalars(
            select(Membership)
            .where(Membership.event_id == event_id, Membership.status != MembershipStatus.REJECTED)
            .order_by(Membership.id)
        )
    ).all()


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
    proposal = await get(
        session,
        Proposal,
        Proposal.id == proposal_id,
        Proposal.event_id == event_id,
        for_update=for_update,
        for_share=for_share,
    )
    if proposal is None:
        raise NotFound("proposal_not_found", "No such proposal in this event.")
    return proposal


async def list_proposals(
    session: AsyncSession,
    event_id: uuid.UUID,
    kind: str | None,
    status: str | None,
    params: PageParams,
) -> Rows[Proposal, uuid.UUID]:
    query = select(Proposal).where(Proposal.event_id == event_id)
    if kind is not None:
        query = query.where(Proposal.kind == kind)
    if status is not None:
        query = query.where(Proposal.status == status)
    return await paginate(session, query, Proposal.id, params, newest_first=True)


async def all_proposals(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Proposal]:
    """Every proposal of the event, oldest first."""
    return (
        await session.scalars(
            select(Proposal).where(Proposal.event_id == event_id).order_by(Proposal.id)
        )
    ).all()


async def lock_pending_proposals(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Lock the event's PENDING proposals (in id order), before a change that may decide
    them locks the event row: votes lock their proposal first and the event row last, so
    taking them in the same order cannot deadlock with a vote, and every vote already
    counting on one of them commits before the change goes on."""
    await session.execute(
        select(_proposals.c.id)
        .where(_proposals.c.event_id == event_id, rules.votable_sql(_proposals.c.status))
        .order_by(_proposals.c.id)
        .with_for_update()
    )


async def accept_reaching(
    session: AsyncSession, event_id: uuid.UUID, threshold: int, proposal_id: uuid.UUID | None = None
) -> Sequence[Any]:
    """Accept (``decided_by: auto``) the event's PENDING proposals whose votes already
    reach ``threshold`` (or just ``proposal_id``); the accepted rows, in id order."""
    condition = and_(
        _proposals.c.event_id == event_id,
        rules.votable_sql(_proposals.c.status),
        rules.reaches_threshold_sql(_proposals.c.vote_count, threshold),
    )
    if proposal_id is not None:
        condition = and_(condition, _proposals.c.id == proposal_id)
    connection = await session.connection()
    result = await connection.execute(
        update(_proposals)
        .where(condition)
        .values(status=ProposalStatus.ACCEPTED.value, decided_by=AUTO, decided_at=utcnow())
        .returning(*_proposals.c)
    )
    return sorted(result.all(), key=lambda row: row.id)


# -- votes ------------------------------------------------------------------------------

_VOTABLE = and_(
    _proposals.c.id == bindparam("p_proposal"),
    _proposals.c.event_id == bindparam("p_event"),
    rules.votable_sql(_proposals.c.status),
)
_COUNT_VOTE = (
    update(_proposals)
    .where(_VOTABLE)
    .values(vote_count=_proposals.c.vote_count + bindparam("delta"))
    .returning(*_proposals.c)
)
_reaches = rules.reaches_threshold_sql(
    _proposals.c.vote_count + bindparam("delta"), bindparam("threshold")
)
_COUNT_VOTE_OR_ACCEPT = _COUNT_VOTE.values(
    status=case((_reaches, literal(ProposalStatus.ACCEPTED.value)), else_=_proposals.c.status),
    decided_by=case((_reaches, literal(AUTO)), else_=_proposals.c.decided_by),
    decided_at=case(
        (_reaches, bindparam("now", type_=_proposals.c.decided_at.type)),
        else_=_proposals.c.decided_at,
    ),
)


async def count_vote(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    delta: int,
    threshold: int | None,
) -> Any:
    """Add ``delta`` to the proposal's vote count while it is votable, accepting it when
    the count reaches ``threshold``; returns the updated row. One conditional UPDATE: the
    row lock it takes makes concurrent votes count one at a time, and only the vote that
    reaches the threshold sees the proposal still PENDING, so it is accepted exactly once."""
    params: dict[str, Any] = {"p_proposal": proposal_id, "p_event": event_id, "delta": delta}
    statement = _COUNT_VOTE
    if threshold is not None and delta > 0:
        statement = _COUNT_VOTE_OR_ACCEPT
        params |= {"threshold": threshold, "now": utcnow()}
    connection = await session.connection()
    row = (await connection.execute(statement, params)).one_or_none()
    if row is None:
        proposal = await get_proposal(session, event_id, proposal_id)  # raises if absent
        raise rules.not_votable(proposal.status)
    return row


async def add_vote(session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """False if the user has already voted for the proposal (the primary key decides)."""
    return await insert_unless_exists(
        session, Vote, proposal_id=proposal_id, user_id=user_id, created_at=utcnow()
    )


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
) -> Rows[Comment, uuid.UUID]:
    query = (
        select(Comment)
        .where(Comment.proposal_id == proposal_id)
        .options(selectinload(Comment.author))
    )
    return await paginate(session, query, Comment.id, params, newest_first=newest_first)
