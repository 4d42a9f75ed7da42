"""Queries and row locks of the decisions domain. Only ``flush()`` here; the unit of work
commits. The conditions of its conditional UPDATEs (votable, the threshold, an open
event) are decision rules: quorum/decisions/rules.py builds them."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Float,
    Integer,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    literal,
    select,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

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
from quorum.decisions import rules, search, tables
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

_events, _memberships, _proposals = tables.EVENTS, tables.MEMBERSHIPS, tables.PROPOSALS
_users, _sessions, _votes = tables.USERS, tables.SESSIONS, tables.VOTES


class Access(NamedTuple):
    event_status: str
    vote_threshold: int | None
    anonymous_votes: bool
    hidden_tallies: bool
    role: str | None
    membership_status: str | None
    display_name: str | None
    session_live: bool  # the caller's token's login session exists and has not expired


async def access(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, session_id: uuid.UUID
) -> Access | None:
    """The event, the caller's membership of it, the caller's name (for the payloads that
    name them: a vote needs no other read) and whether the caller's login session is live,
    in one round trip. Every event-scoped request runs this, so the statement is built
    once and run on the Core connection."""
    connection = await session.connection()
    params = {"p_event": event_id, "p_user": user_id, "p_sid": session_id, "now": utcnow()}
    row = (await connection.execute(tables.ACCESS, params)).one_or_none()
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


class Counted(NamedTuple):
    """The event row as the log's counter left it (the columns of ``tables.COUNTER``, in order).
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
        session, event_id, entries, tables.COUNTER_IF_OPEN if require_open else tables.COUNTER
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


# The orders of an event's proposals: newest first (ix_proposals_event_id_id, or
# ..._status_id with a status filter), most recently decided first
# (ix_proposals_event_id_decided_at_id), most votes first (the event's proposals sorted:
# an index on vote_count would cost every vote a non-HOT update). docs/queries.md has
# their plans.
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
        .returning(*_proposals.c, tables.AUTHOR_NAME)
    )
    return sorted(result.all(), key=lambda row: row.id)


# -- votes ------------------------------------------------------------------------------

_COUNT_VOTE = (
    update(_proposals)
    .where(tables.VOTABLE)
    .values(vote_count=_proposals.c.vote_count + bindparam("delta"))
    .returning(*_proposals.c, tables.AUTHOR_NAME)
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
