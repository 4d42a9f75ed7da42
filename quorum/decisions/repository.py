"""Queries and row locks of the decisions domain. Only ``flush()`` here; the unit of work
commits. The conditions of its conditional UPDATEs (votable, the threshold, an open
event) are decision rules: quorum/decisions/rules.py builds them."""

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    update,
    values,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quorum.accounts.models import LoginSession, User
from quorum.db import trigrams
from quorum.db.base import utcnow, uuid7
from quorum.db.insert import insert_unless_exists
from quorum.db.repository import (
    Keyset,
    PageParams,
    Position,
    Rows,
    fetch_page,
    get,
    paginate,
    paginate_sorted,
)
from quorum.db.uow import stage
from quorum.decisions import rules, search
from quorum.decisions.events import VoteCast, VoteWithdrawn
from quorum.decisions.models import (
    Comment,
    Event,
    EventStatus,
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
from quorum.realtime.message import Entry

_events = cast(Table, Event.__table__)
_memberships = cast(Table, Membership.__table__)
_proposals = cast(Table, Proposal.__table__)
_users = cast(Table, User.__table__)
_sessions = cast(Table, LoginSession.__table__)
_votes = cast(Table, Vote.__table__)


class Access(NamedTuple):
    event_status: str
    vote_threshold: int | None
    anonymous_votes: bool
    hidden_tallies: bool
    role: str | None
    membership_status: str | None
    display_name: str | None
    session_live: bool  # the caller's token's login session exists and has not expired


_ACCESS = (
    select(
        _events.c.status,
        _events.c.vote_threshold,
        _events.c.anonymous_votes,
        _events.c.hidden_tallies,
        _memberships.c.role,
        _memberships.c.status,
        _users.c.display_name,
        _sessions.c.id,
    )
    .select_from(
        _events.outerjoin(
            _memberships,
            and_(
                _memberships.c.event_id == _events.c.id,
                _memberships.c.user_id == bindparam("user_id"),
            ),
        )
        .outerjoin(_users, _users.c.id == _memberships.c.user_id)
        .outerjoin(
            _sessions,
            and_(
                _sessions.c.id == bindparam("sid"),
                _sessions.c.user_id == bindparam("user_id"),
                _sessions.c.expires_at > bindparam("now", type_=_sessions.c.expires_at.type),
            ),
        )
    )
    .where(_events.c.id == bindparam("event_id"), _events.c.deleted_at.is_(None))
)


async def access(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID
) -> Access | None:
    """The event, the caller's membership of it, the caller's name (for the payloads that
    name them: a vote needs no other read) and whether the caller's login session is live,
    in one round trip. Every event-scoped request runs this, so the statement is built
    once and run on the Core connection."""
    connection = await session.connection()
    params = {"event_id": event_id, "user_id": user_id, "sid": session_id, "now": utcnow()}
    row = (await connection.execute(_ACCESS, params)).one_or_none()
    if row is None:
        return None
    status, threshold, anonymous, hidden, role, membership_status, name, live_session = row
    return Access(
        status,
        threshold,
        anonymous,
        hidden,
        role,
        membership_status,
        name,
        live_session is not None,
    )


AccessKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]
"""(event_id, user_id, session_id): whose access to which event ``access_many`` reads."""


async def access_many(session: AsyncSession, asked: Sequence[AccessKey]) -> list[Access | None]:
    """``access`` for many callers in one round trip: the asked triples as a VALUES list,
    joined as ``access`` joins its parameters. A reconnect storm's stream handshakes are
    answered this way (quorum/decisions/eviction.py)."""
    keys = values(
        column("i", Integer),
        column("event_id", _events.c.id.type),
        column("user_id", _users.c.id.type),
        column("sid", _sessions.c.id.type),
        name="asked",
    ).data([(i, *key) for i, key in enumerate(asked)])
    k = keys.cte("asked")
    now = utcnow()
    query = select(
        k.c.i,
        _events.c.status,
        _events.c.vote_threshold,
        _events.c.anonymous_votes,
        _events.c.hidden_tallies,
        _memberships.c.role,
        _memberships.c.status,
        _users.c.display_name,
        _sessions.c.id,
    ).select_from(
        k.join(_events, and_(_events.c.id == k.c.event_id, _events.c.deleted_at.is_(None)))
        .outerjoin(
            _memberships,
            and_(_memberships.c.event_id == _events.c.id, _memberships.c.user_id == k.c.user_id),
        )
        .outerjoin(_users, _users.c.id == _memberships.c.user_id)
        .outerjoin(
            _sessions,
            and_(
                _sessions.c.id == k.c.sid,
                _sessions.c.user_id == k.c.user_id,
                _sessions.c.expires_at > now,
            ),
        )
    )
    found: list[Access | None] = [None] * len(asked)
    connection = await session.connection()
    for (
        i,
        status,
        threshold,
        anonymous,
        hidden,
        role,
        membership,
        name,
        live,
    ) in await connection.execute(query):
        found[i] = Access(
            status, threshold, anonymous, hidden, role, membership, name, live is not None
        )
    return found


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


async def read_log_newest_first(
    session: AsyncSession, event_id: uuid.UUID, before: int | None, limit: int
) -> Rows[LogEntry, int]:
    """A page of the event's log before ``seq`` ``before`` (from the newest if None),
    newest first: the activity timeline."""
    return await fetch_page(
        lambda n: log.read_before(session, event_id, before, n), limit, lambda e: e.seq
    )


# -- events -----------------------------------------------------------------------------


async def get_event(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False, people: bool = False
) -> Event:
    """The event, unless it does not exist or was deleted (its tombstone is no event);
    ``people`` loads its organizer, for a response."""
    event = await get(
        session,
        Event,
        Event.id == event_id,
        Event.deleted_at.is_(None),
        for_update=for_update,
        options=(selectinload(Event.organizer),) if people else (),
    )
    if event is None:
        raise NotFound("event_not_found", "No such event.")
    return event


async def event_deleted(session: AsyncSession, event_id: uuid.UUID) -> bool:
    """Whether the event is gone or a tombstone (read under the row's lock)."""
    query = select(Event.deleted_at).where(Event.id == event_id).with_for_update()
    row = (await session.execute(query)).one_or_none()
    return row is None or row.deleted_at is not None


async def due_events(session: AsyncSession, now: datetime, limit: int) -> Sequence[uuid.UUID]:
    """Open events whose deadline has come, soonest first (ix_events_status_closes_at)."""
    query = (
        select(Event.id)
        .where(rules.closes_by_deadline_sql(Event.status, Event.closes_at, now))
        .order_by(Event.closes_at)
        .limit(limit)
    )
    return (await session.scalars(query)).all()


async def close_if_due(session: AsyncSession, event_id: uuid.UUID, now: datetime) -> Event | None:
    """Close the event if it is still OPEN and due: one conditional UPDATE, whose row
    lock makes a concurrent sweeper on another instance wait and then match nothing."""
    return await session.scalar(
        update(Event)
        .where(
            Event.id == event_id,
            Event.deleted_at.is_(None),
            rules.closes_by_deadline_sql(Event.status, Event.closes_at, now),
        )
        .values(status=EventStatus.CLOSED.value, closed_at=now)
        .returning(Event)
        .execution_options(populate_existing=True)
    )


async def list_events(
    session: AsyncSession,
    user_id: uuid.UUID,
    membership: str,
    status: str | None,
    q: str | None,
    params: PageParams,
) -> Rows[Event, uuid.UUID]:
    """The user's events, newest first: ``membership`` says which (``rules.listed_sql``)."""
    query = (
        select(Event)
        .join(Membership, Membership.event_id == Event.id)
        .where(Membership.user_id == user_id, rules.listed_sql(Membership.status, membership))
        .options(selectinload(Event.organizer))
    )
    if status is not None:
        query = query.where(Event.status == status)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Event.title).like(f"%{escaped.lower()}%", escape="\\"))
    return await paginate(session, query, Event.id, params, newest_first=True, total=True)


async def delete_content(session: AsyncSession, event_id: uuid.UUID) -> None:
    """Delete the event's proposals (their votes and comments go with them: ON DELETE
    CASCADE) and memberships. The memberships are locked first, then the proposals, in id
    order: the order of every member's write (its membership, then its proposal, then the
    event row) and of a removal, so none of them can deadlock with the deletion; every
    vote already counting commits first (it takes the event row, which the deletion
    locks only after this)."""
    await session.execute(
        select(_memberships.c.id)
        .where(_memberships.c.event_id == event_id)
        .order_by(_memberships.c.id)
        .with_for_update()
    )
    await session.execute(
        select(_proposals.c.id)
        .where(_proposals.c.event_id == event_id)
        .order_by(_proposals.c.id)
        .with_for_update()
    )
    await session.execute(delete(Proposal).where(Proposal.event_id == event_id))
    await session.execute(delete(Membership).where(Membership.event_id == event_id))


async def delete_log_before(session: AsyncSession, event_id: uuid.UUID, seq: int) -> None:
    """Delete the event's log entries older than ``seq`` (its last)."""
    await session.execute(delete(LogEntry).where(LogEntry.topic_id == event_id, LogEntry.seq < seq))


async def my_memberships(
    session: AsyncSession, user_id: uuid.UUID, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Membership]:
    """The user's membership of each of ``event_ids`` (a page of their events), by event:
    one query on the (event, user) key."""
    if not event_ids:
        return {}
    rows = await session.scalars(
        select(Membership).where(Membership.user_id == user_id, Membership.event_id.in_(event_ids))
    )
    return {m.event_id: m for m in rows}


# -- memberships ------------------------------------------------------------------------

# A membership's people, for its response: the member and whoever decided on it.
_MEMBERSHIP_PEOPLE = (selectinload(Membership.user), selectinload(Membership.decider))


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
        options=_MEMBERSHIP_PEOPLE,
    )
    if membership is None:
        raise NotFound("membership_not_found", "No such membership in this event.")
    return membership


async def get_own_membership(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
) -> Membership:
    """The user's membership of the event in any status; 404 ``event_not_found`` or
    ``membership_not_found``."""
    membership = await get(
        session,
        Membership,
        Membership.event_id == event_id,
        Membership.user_id == user_id,
        for_update=for_update,
        options=_MEMBERSHIP_PEOPLE,
    )
    if membership is None:
        await get_event(session, event_id)  # raises if it is the event that is missing
        raise NotFound("membership_not_found", "You have no membership of this event.")
    return membership


async def hold_membership(session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Lock the user's approved membership of the event FOR SHARE until this write commits
    (``rules.holds_membership_sql``), or refuse: 403 ``not_a_member``. A removal waits
    for the lock; a removal that committed first leaves nothing to lock."""
    held = await session.scalar(
        select(_memberships.c.id)
        .where(
            rules.holds_membership_sql(
                _memberships.c.event_id,
                _memberships.c.user_id,
                _memberships.c.status,
                event_id,
                user_id,
            )
        )
        .with_for_update(read=True)
    )
    if held is None:
        raise rules.not_a_member()


async def delete_membership(session: AsyncSession, membership: Membership) -> None:
    await session.delete(membership)
    await session.flush()


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
    return await session.get_one(Membership, membership_id, options=[selectinload(Membership.user)])


async def list_memberships(
    session: AsyncSession, event_id: uuid.UUID, status: str | None, params: PageParams
) -> Rows[Membership, uuid.UUID]:
    query = select(Membership).where(Membership.event_id == event_id).options(*_MEMBERSHIP_PEOPLE)
    if status is not None:
        query = query.where(Membership.status == status)
    return await paginate(session, query, Membership.id, params, total=True)


async def list_members(
    session: AsyncSession, event_id: uuid.UUID, params: PageParams
) -> Rows[Membership, uuid.UUID]:
    """The event's approved members, oldest membership first."""
    query = (
        select(Membership)
        .where(Membership.event_id == event_id, rules.is_member_sql(Membership.status))
        .options(selectinload(Membership.user))
    )
    return await paginate(session, query, Membership.id, params, total=True)


async def current_memberships(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Membership]:
    """Every membership and request of the event but the rejected ones, oldest first."""
    return (
        await session.scalars(
            select(Membership)
            .where(Membership.event_id == event_id, Membership.status != MembershipStatus.REJECTED)
            .options(*_MEMBERSHIP_PEOPLE)
            .order_by(Membership.id)
        )
    ).all()


# -- proposals --------------------------------------------------------------------------

# A proposal's people, for its response: one more SELECT per list, not one per row.
_PEOPLE = (selectinload(Proposal.author), selectinload(Proposal.decided_by))
# Its author's name as a column of the statement that changed it: the vote's hot path
# reads no other row to answer.
_AUTHOR_NAME = (
    select(_users.c.display_name)
    .where(_users.c.id == _proposals.c.author_id)
    .scalar_subquery()
    .label("author_name")
)


async def get_proposal(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    *,
    for_update: bool = False,
    for_share: bool = False,
    people: bool = False,
) -> Proposal:
    """``for_update`` before deciding on it; ``for_share`` to keep its status still while
    attaching something to it; ``people`` to load its author and decider, for a response."""
    proposal = await get(
        session,
        Proposal,
        Proposal.id == proposal_id,
        Proposal.event_id == event_id,
        for_update=for_update,
        for_share=for_share,
        options=_PEOPLE if people else (),
    )
    if proposal is None:
        raise NotFound("proposal_not_found", "No such proposal in this event.")
    return proposal


# The orders of an event's proposals, each served by an index on (event_id, key, id):
# newest first (ix_proposals_event_id_id, or ..._status_id with a status filter), most
# votes first (ix_proposals_event_id_vote_count_id), most recently decided first
# (ix_proposals_event_id_decided_at_id). docs/queries.md has their plans.
PROPOSAL_ORDERS = {
    "newest": Keyset(None, Proposal.id),
    "most_votes": Keyset(Proposal.vote_count, Proposal.id),
    "recently_decided": Keyset(Proposal.decided_at, Proposal.id),
}


class ProposalFilter(NamedTuple):
    kind: str | None = None
    status: str | None = None
    author_id: uuid.UUID | None = None


async def list_proposals(
    session: AsyncSession,
    event_id: uuid.UUID,
    where: ProposalFilter,
    sort: str,
    after: Position | None,
    limit: int,
) -> Rows[Proposal, Position]:
    """A page of the event's proposals in the order ``sort`` names, with the total.
    ``recently_decided`` lists the decided ones only (``decided_at`` set: no longer
    PENDING); a decision is final, so its key never changes."""
    query = select(Proposal).where(Proposal.event_id == event_id).options(*_PEOPLE)
    if where.kind is not None:
        query = query.where(Proposal.kind == where.kind)
    if where.status is not None:
        query = query.where(Proposal.status == where.status)
    if where.author_id is not None:
        query = query.where(Proposal.author_id == where.author_id)
    if sort == "recently_decided":
        query = query.where(Proposal.decided_at.is_not(None))
    keyset = PROPOSAL_ORDERS[sort]
    return await paginate_sorted(session, query, keyset, after, limit, total=True)


async def all_proposals(session: AsyncSession, event_id: uuid.UUID) -> Sequence[Proposal]:
    """Every proposal of the event, oldest first."""
    return (
        await session.scalars(
            select(Proposal)
            .where(Proposal.event_id == event_id)
            .options(*_PEOPLE)
            .order_by(Proposal.id)
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
    """Accept (``decided_automatically``) the event's PENDING proposals whose votes
    already reach ``threshold`` (or just ``proposal_id``); the accepted rows, with their
    ``author_name``, in id order."""
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
        .values(
            status=ProposalStatus.ACCEPTED.value, decided_automatically=True, decided_at=utcnow()
        )
        .returning(*_proposals.c, _AUTHOR_NAME)
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
    .returning(*_proposals.c, _AUTHOR_NAME)
)
_reaches = rules.reaches_threshold_sql(
    _proposals.c.vote_count + bindparam("delta"), bindparam("threshold")
)
_COUNT_VOTE_OR_ACCEPT = _COUNT_VOTE.values(
    status=case((_reaches, literal(ProposalStatus.ACCEPTED.value)), else_=_proposals.c.status),
    decided_automatically=case((_reaches, literal(True)), else_=_proposals.c.decided_automatically),
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
    the count reaches ``threshold``; returns the updated row, and its ``author_name``. One
    conditional UPDATE: the row lock it takes makes concurrent votes count one at a time,
    and only the vote that reaches the threshold sees the proposal still PENDING, so it is
    accepted exactly once."""
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


# -- a vote in one statement (PostgreSQL) -------------------------------------------------
#
# The whole vote as one statement, so that no row it locks stays locked across a client
# round trip of its own (only the COMMIT's): each data-modifying CTE feeds the next, and
# that chain is the order in which they run and lock, the order of every change:
#   member   the caller's approved membership, FOR SHARE (``rules.holds_membership_sql``);
#   voted    INSERT the vote ... ON CONFLICT DO NOTHING, only if member and the proposal
#            is votable in the statement's snapshot (no vote row for a missing proposal);
#   counted  the proposal's conditional UPDATE (``rules.votable_sql``), only for a vote
#            inserted: +1, accepted when it reaches the threshold (``reaches_threshold_sql``);
#   counter  the event log's counter (``_COUNTER_IF_OPEN``: ``rules.accepts_changes_sql``),
#            only if counted: one number, or two when the vote accepted the proposal (the
#            second is the acceptance entry's, written by the next statement);
#   logged   the ``vote.cast`` entry, its payload given with the count filled in here
#            (``_count_and_log`` builds these two, for a withdrawal as well).
# The outer SELECT reports what each step did, from which ``cast_vote_at_once`` tells
# the outcome; any refusal raises, and the unit of work rolls the rest back.

_P_EVENT = bindparam("p_event", type_=_proposals.c.event_id.type)
_P_PROPOSAL = bindparam("p_proposal", type_=_proposals.c.id.type)
_P_USER = bindparam("p_user", type_=_votes.c.user_id.type)
_P_NOW = bindparam("now", type_=_votes.c.created_at.type)
_member = (
    select(_memberships.c.id)
    .where(
        rules.holds_membership_sql(
            _memberships.c.event_id,
            _memberships.c.user_id,
            _memberships.c.status,
            _P_EVENT,
            _P_USER,
        )
    )
    .with_for_update(read=True)
    .cte("member")
)
_votable_now = exists().where(_VOTABLE)
_voted = (
    postgresql.insert(_votes)
    .from_select(
        ["proposal_id", "user_id", "created_at"],
        select(_P_PROPOSAL, _P_USER, _P_NOW).where(exists(select(_member.c.id)), _votable_now),
    )
    .on_conflict_do_nothing()
    .returning(_votes.c.proposal_id)
    .cte("voted")
)
_reaches_now = rules.reaches_threshold_sql(
    _proposals.c.vote_count + 1, bindparam("threshold", type_=Integer)
)
_counted = (
    update(_proposals)
    .where(
        _proposals.c.id == select(_voted.c.proposal_id).scalar_subquery(),
        _proposals.c.event_id == _P_EVENT,
        rules.votable_sql(_proposals.c.status),
    )
    .values(
        vote_count=_proposals.c.vote_count + 1,
        status=case(
            (_reaches_now, literal(ProposalStatus.ACCEPTED.value)), else_=_proposals.c.status
        ),
        decided_automatically=case(
            (_reaches_now, literal(True)), else_=_proposals.c.decided_automatically
        ),
        decided_at=case(
            (_reaches_now, bindparam("now", type_=_proposals.c.decided_at.type)),
            else_=_proposals.c.decided_at,
        ),
    )
    .returning(*_proposals.c, _AUTHOR_NAME)
    .cte("counted")
)


def _count_and_log(counted: CTE, extra: ColumnElement[int], entry_type: str) -> tuple[CTE, CTE]:
    """The ``counter`` and ``logged`` steps after ``counted`` (a proposal row a vote
    changed, with its ``vote_count``): the event log's counter (``_COUNTER_IF_OPEN``,
    so ``rules.accepts_changes_sql``) takes 1 + ``extra`` numbers, only if ``counted``
    has a row; the first is the ``entry_type`` entry's, written here with the payload
    given as ``entry_data`` and the new ``vote_count`` filled in."""
    counter_step = _COUNTER_IF_OPEN
    guard = [] if counter_step.guard is None else [counter_step.guard]
    counter = (
        update(counter_step.table)
        .where(counter_step.key == _P_EVENT, *guard, exists(select(counted.c.id)))
        .values({counter_step.seq: counter_step.seq + 1 + select(extra).scalar_subquery()})
        .returning(counter_step.seq, *counter_step.returning)
        .cte("counter")
    )
    log_table = counter_step.log
    logged = (
        insert(log_table)
        .from_select(
            ["topic_id", "seq", "type", "data", "created_at"],
            select(
                bindparam("p_event", type_=log_table.c.topic_id.type),
                counter.c[counter_step.seq.name] - extra,
                literal(entry_type, log_table.c.type.type),
                func.jsonb_set(
                    bindparam("entry_data", type_=postgresql.JSONB),
                    literal_column("'{vote_count}'::text[]"),
                    func.to_jsonb(counted.c.vote_count),
                ),
                bindparam("now", type_=log_table.c.created_at.type),
            ).select_from(counter.join(counted, true())),
        )
        .cte("logged")
    )
    return counter, logged


# The numbers the vote takes beyond its ``vote.cast``: one more if it accepted the proposal.
_accepted = case((_counted.c.status == ProposalStatus.ACCEPTED.value, 1), else_=0)
_counter, _logged = _count_and_log(_counted, _accepted, VoteCast.TYPE)
_snapshot_status = (
    select(_proposals.c.status)
    .where(_proposals.c.id == _P_PROPOSAL, _proposals.c.event_id == _P_EVENT)
    .scalar_subquery()
    .label("snapshot_status")
)
_step = select(literal(1).label("one")).subquery("step")


def _at_once(changed: CTE, label: str, counted: CTE, counter: CTE, logged: CTE) -> Select[Any]:
    """The one row a one-statement vote change returns: whether the caller is a member,
    the proposal's status in the statement's snapshot, how many vote rows ``changed``
    touched (as ``label``), the proposal's new count and the log position taken; the log
    INSERT ``logged`` runs as a CTE of its own."""
    return (
        select(
            select(func.count()).select_from(_member).scalar_subquery().label("is_member"),
            _snapshot_status,
            select(func.count()).select_from(changed).scalar_subquery().label(label),
            *counted.c,
            *counter.c,
        )
        .select_from(_step.outerjoin(counted, true()).outerjoin(counter, true()))
        .add_cte(logged)
    )


_VOTE_AT_ONCE = _at_once(_voted, "inserted", _counted, _counter, _logged)


async def cast_vote_at_once(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user_id: uuid.UUID,
    threshold: int | None,
    cast_data: dict[str, Any],
) -> Any:
    """Cast the vote in one statement (PostgreSQL; see ``_VOTE_AT_ONCE``) and log (and
    stage) its ``vote.cast`` entry, ``cast_data`` with the new ``vote_count``. Returns the counted
    proposal row (with ``author_name``) and the counter's ``last_seq`` and
    ``vote_threshold``; when the vote accepted the proposal, ``last_seq`` is the number
    kept for the acceptance entry (``log_numbered``). Refusals, in the order of the
    serialised path: 403 ``not_a_member``, 404 ``proposal_not_found``, 409
    ``proposal_not_pending``, 409 ``already_voted``, 409 ``event_closed``."""
    params = {
        "p_event": event_id,
        "p_proposal": proposal_id,
        "p_user": user_id,
        "now": utcnow(),
        "threshold": threshold,
        "entry_data": cast_data,
    }
    connection = await session.connection()
    row = (await connection.execute(_VOTE_AT_ONCE, params)).one()
    if not row.is_member:
        raise rules.not_a_member()
    if row.snapshot_status is None:
        raise NotFound("proposal_not_found", "No such proposal in this event.")
    if not row.inserted and row.snapshot_status != rules.VOTABLE:
        raise rules.not_votable(row.snapshot_status)
    if not row.inserted:
        raise rules.already_voted()
    if row.id is None:  # decided after the statement's snapshot, before its UPDATE
        proposal = await get_proposal(session, event_id, proposal_id)
        raise rules.not_votable(proposal.status)
    if row.last_seq is None:
        raise rules.event_closed()
    first = row.last_seq - (1 if row.status == ProposalStatus.ACCEPTED else 0)
    cast = cast_data | {"vote_count": row.vote_count}
    stage(session, [Entry(event_id, first, VoteCast.TYPE, cast)])
    return row


async def log_numbered(session: AsyncSession, entries: Sequence[Entry]) -> None:
    """Write entries already numbered by this transaction's own counter UPDATE (the
    event row stays locked until commit, so nobody else takes their numbers), and stage
    them, after whatever the transaction staged before."""
    now = utcnow()
    rows = [
        {"topic_id": e.topic, "seq": e.seq, "type": e.type, "data": e.data, "created_at": now}
        for e in entries
    ]
    connection = await session.connection()
    await connection.execute(insert(_COUNTER.log), rows)
    stage(session, entries)


# A withdrawal in one statement, in the same order: the membership (FOR SHARE, as a
# vote holds it, so that a removal, which locks it first, never waits on a withdrawal
# that holds the vote row), the vote's DELETE (while the proposal is votable in the
# snapshot), the count's conditional UPDATE, the counter and the ``vote.withdrawn`` entry.
_withdrawn = (
    delete(_votes)
    .where(
        _votes.c.proposal_id == _P_PROPOSAL,
        _votes.c.user_id == _P_USER,
        exists(select(_member.c.id)),
        _votable_now,
    )
    .returning(_votes.c.proposal_id)
    .cte("withdrawn")
)
_uncounted = (
    update(_proposals)
    .where(
        _proposals.c.id == select(_withdrawn.c.proposal_id).scalar_subquery(),
        _proposals.c.event_id == _P_EVENT,
        rules.votable_sql(_proposals.c.status),
    )
    .values(vote_count=_proposals.c.vote_count - 1)
    .returning(_proposals.c.id, _proposals.c.vote_count)
    .cte("counted")
)
_w_counter, _w_logged = _count_and_log(_uncounted, literal(0), VoteWithdrawn.TYPE)
_WITHDRAW_AT_ONCE = _at_once(_withdrawn, "deleted", _uncounted, _w_counter, _w_logged)


async def withdraw_vote_at_once(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user_id: uuid.UUID,
    withdrawn_data: dict[str, Any],
) -> None:
    """Withdraw the vote in one statement (PostgreSQL; ``_WITHDRAW_AT_ONCE``) and log (and
    stage) its ``vote.withdrawn`` entry, ``withdrawn_data`` with the new ``vote_count``.
    Refusals, in the order of the serialised path: 403 ``not_a_member``, 404
    ``proposal_not_found``, 409 ``proposal_not_pending``, 404 ``vote_not_found``, 409
    ``event_closed``."""
    params = {
        "p_event": event_id,
        "p_proposal": proposal_id,
        "p_user": user_id,
        "now": utcnow(),
        "entry_data": withdrawn_data,
    }
    connection = await session.connection()
    row = (await connection.execute(_WITHDRAW_AT_ONCE, params)).one()
    if not row.is_member:
        raise rules.not_a_member()
    if row.snapshot_status is None:
        raise NotFound("proposal_not_found", "No such proposal in this event.")
    if row.snapshot_status != rules.VOTABLE:
        raise rules.not_votable(row.snapshot_status, withdrawal=True)
    if not row.deleted:
        raise NotFound("vote_not_found", "You have no vote on this proposal.")
    if row.id is None:  # decided after the statement's snapshot, before its UPDATE
        proposal = await get_proposal(session, event_id, proposal_id)
        raise rules.not_votable(proposal.status, withdrawal=True)
    if row.last_seq is None:
        raise rules.event_closed()
    withdrawn = withdrawn_data | {"vote_count": row.vote_count}
    stage(session, [Entry(event_id, row.last_seq, VoteWithdrawn.TYPE, withdrawn)])


async def delete_vote(session: AsyncSession, proposal_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    result = await session.scalar(
        delete(Vote)
        .where(Vote.proposal_id == proposal_id, Vote.user_id == user_id)
        .returning(Vote.user_id)
    )
    return result is not None


async def withdraw_votes_of(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[Any]:
    """Withdraw the user's votes on the event's PENDING proposals (a removal's): each such
    proposal is locked in id order, as a threshold change locks them, its vote deleted
    and its count decremented. The rows ``(id, vote_count)`` after, in id order."""
    voted = select(_votes.c.proposal_id).where(_votes.c.user_id == user_id)
    ids = (
        await session.scalars(
            select(_proposals.c.id)
            .where(
                _proposals.c.event_id == event_id,
                rules.votable_sql(_proposals.c.status),
                _proposals.c.id.in_(voted),
            )
            .order_by(_proposals.c.id)
            .with_for_update()
        )
    ).all()
    if not ids:
        return []
    await session.execute(
        delete(_votes).where(_votes.c.user_id == user_id, _votes.c.proposal_id.in_(ids))
    )
    result = await session.execute(
        update(_proposals)
        .where(_proposals.c.id.in_(ids))
        .values(vote_count=_proposals.c.vote_count - 1)
        .returning(_proposals.c.id, _proposals.c.vote_count)
    )
    return sorted(result.all(), key=lambda row: row.id)


async def list_voters(
    session: AsyncSession, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Vote, uuid.UUID]:
    """Who voted for the proposal, with their names, by voter id (a key a page continues
    after: a vote's time is not unique)."""
    query = select(Vote).where(Vote.proposal_id == proposal_id).options(selectinload(Vote.user))
    return await paginate(session, query, Vote.user_id, params, total=True)


# -- comments ---------------------------------------------------------------------------


async def get_comment(
    session: AsyncSession, proposal_id: uuid.UUID, comment_id: uuid.UUID
) -> Comment:
    """The comment, locked for the change about to be made to it, with its author."""
    comment = await session.scalar(
        select(Comment)
        .where(Comment.id == comment_id, Comment.proposal_id == proposal_id)
        .options(selectinload(Comment.author))
        .with_for_update(of=Comment)
        .execution_options(populate_existing=True)
    )
    if comment is None:
        raise NotFound("comment_not_found", "No such comment on this proposal.")
    return comment


async def list_comments(
    session: AsyncSession,
    proposal_id: uuid.UUID,
    params: PageParams,
    *,
    newest_first: bool = False,
    total: bool = False,
) -> Rows[Comment, uuid.UUID]:
    """The proposal's comments (tombstones included); ``total`` counts them all."""
    query = (
        select(Comment)
        .where(Comment.proposal_id == proposal_id)
        .options(selectinload(Comment.author))
    )
    return await paginate(
        session, query, Comment.id, params, newest_first=newest_first, total=total
    )


# -- similar proposals ------------------------------------------------------------------


async def similar_proposals(
    session: AsyncSession, event_id: uuid.UUID, text: str, limit: int
) -> list[tuple[Proposal, float]]:
    """The event's proposals whose titles are most similar to ``text`` (pg_trgm's
    similarity, at least ``search.THRESHOLD``), best first, ties oldest first (the
    original a duplicate would split votes from); none if ``text`` has no letter or
    digit. PostgreSQL finds the candidates with ``title % :text`` (the GIN trigram
    index), SQLite with its FTS5 trigram table (quorum/decisions/search.py); both rank
    them with the same ``similarity``."""
    expression = trigrams.match_expression(text)
    if expression is None:
        return []
    score = func.similarity(Proposal.title, text, type_=Float)
    query = select(Proposal, score).where(
        Proposal.event_id == event_id,
        Proposal.status.in_(search.SIMILAR_STATUSES),
        score >= search.THRESHOLD,
    )
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        query = query.where(Proposal.title.op("%")(text))
        # A generic plan (a prepared statement's, from its sixth run) takes every event
        # for an average one, a few rows, and walks a large event's proposals computing
        # similarity for each: 130 ms for 5,000 where the trigram index takes 20 ms
        # (docs/queries.md). A custom plan sees the event's size and picks the index.
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    else:
        candidates = (
            select(search.keys.c.proposal_id)
            .join(search.fts, search.fts.c.rowid == search.keys.c.id)
            .where(search.fts.c.words.match(expression))
        )
        query = query.where(Proposal.id.in_(candidates))
    query = query.order_by(score.desc(), Proposal.id).limit(limit).options(*_PEOPLE)
    return [(proposal, float(value)) for proposal, value in (await session.execute(query)).all()]
