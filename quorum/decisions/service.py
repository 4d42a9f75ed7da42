"""Use cases of the decisions domain. Each runs inside the caller's unit of work, writes
its event-log entries in that same transaction, and returns response schemas."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as accounts
from quorum.accounts.tokens import Caller
from quorum.db.base import utcnow, uuid7
from quorum.db.batch import batches_of
from quorum.db.repository import PageParams, Rows
from quorum.db.uow import stage
from quorum.decisions import at_once, batched, projection, rules, views
from quorum.decisions import repository as repo
from quorum.decisions.access import EventAccess, load_access
from quorum.decisions.events import (
    ClosedBy,
    ClosedByDeadline,
    ClosedByUser,
    CommentCreated,
    CommentDeleted,
    CommentUpdated,
    EventDeleted,
    EventUpdated,
    MembershipRemoved,
    MembershipRequested,
    MembershipUpdated,
    ProposalCreated,
    ProposalUpdated,
    RemovalReason,
    VoteCast,
    VoteWithdrawn,
)
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
from quorum.decisions.schemas import (
    CommentOut,
    EventCreate,
    EventListItem,
    EventOut,
    EventUpdate,
    MembershipFilter,
    MembershipOut,
    MembershipUpdate,
    MyMembership,
    PersonOut,
    ProposalCreate,
    ProposalDetail,
    ProposalOut,
    ProposalUpdate,
    SimilarProposalOut,
    SimilarProposals,
    VoteOut,
)
from quorum.errors import Conflict, InvalidInput, NotFound
from quorum.realtime.message import Entry

LATEST_COMMENTS = 10


# -- events -----------------------------------------------------------------------------


def check_deadline(closes_at: datetime | None, now: datetime) -> None:
    """A deadline is set in the future; one already past would close the event at once."""
    if closes_at is not None and closes_at <= now:
        raise InvalidInput("closes_at_not_future", "closes_at must lie in the future.")


async def create_event(session: AsyncSession, user_id: uuid.UUID, data: EventCreate) -> EventOut:
    now = utcnow()
    check_deadline(data.closes_at, now)
    event = Event(
        id=uuid7(),
        title=data.title,
        description=data.description,
        vote_threshold=data.vote_threshold,
        anonymous_votes=data.anonymous_votes,
        hidden_tallies=data.hidden_tallies,
        organizer_id=user_id,
        status=EventStatus.OPEN,
        last_seq=0,
        created_at=now,
        closes_at=data.closes_at,
        allow_edits_with_votes=data.allow_edits_with_votes,
    )
    session.add(event)
    await session.flush()
    session.add(
        Membership(
            id=uuid7(),
            event_id=event.id,
            user_id=user_id,
            role=Role.ORGANIZER,
            status=MembershipStatus.APPROVED,
            created_at=now,
            decided_at=now,
        )
    )
    await session.flush()
    organizer = await accounts.display_name(session, user_id) or DELETED_USER
    return views.event(EventOut, event, organizer)


async def update_event(session: AsyncSession, access: EventAccess, data: EventUpdate) -> EventOut:
    changes = data.model_dump(exclude_unset=True)
    rules.check_options_unchanged(changes)
    if not changes:
        raise InvalidInput("empty_update", "Send at least one field to change.")
    for field in ("title", "status", "allow_edits_with_votes"):  # NOT NULL: refuse, not a 500
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field}_required", f"An event's {field} cannot be null.")
    if changes.get("description", "") is None:
        changes["description"] = ""
    now = utcnow()
    check_deadline(changes.get("closes_at"), now)
    new_threshold = changes.get("vote_threshold")
    may_accept = rules.threshold_change_accepts(new_threshold, changes.get("status"))
    if may_accept:
        await repo.lock_pending_proposals(session, access.event_id)
    event = await repo.get_event(session, access.event_id, for_update=True, people=True)
    rules.check_event_change(event.status, changes.get("status"), changes.keys())
    closed_by = _status_change(event, changes.get("status"), access, now)
    for field, value in changes.items():
        setattr(event, field, value)
    await session.flush()
    out = views.event_of(EventUpdated, event)
    out.closed_by = closed_by
    entries = [out.entry()]
    if may_accept and new_threshold is not None:
        # Proposals that the new threshold already decides are accepted by this change.
        accepted = await repo.accept_reaching(session, event.id, new_threshold)
        hidden = rules.tally_hidden(event.hidden_tallies, event.status)
        entries += [
            views.proposal(ProposalUpdated, p, p.author_name, None, tally_hidden=hidden).entry()
            for p in accepted
        ]
    counted = await repo.append_log(session, event.id, entries, require_open=False)
    out.last_seq = counted.last_seq
    return out


def _status_change(
    event: Event, new_status: str | None, access: EventAccess, now: datetime
) -> ClosedBy | None:
    """Record when the event closes (and by whom) or reopens. Reopening drops a deadline
    that has passed, which would otherwise close the event again at once."""
    if new_status == EventStatus.CLOSED and event.status == EventStatus.OPEN:
        event.closed_at = now
        return ClosedByUser(id=access.user_id, display_name=access.display_name)
    if new_status == EventStatus.OPEN and event.status == EventStatus.CLOSED:
        event.closed_at = None
        if event.closes_at is not None and event.closes_at <= now:
            event.closes_at = None
    return None


async def close_at_deadline(session: AsyncSession, event_id: uuid.UUID) -> EventOut | None:
    """Close the event if its deadline has come and it is still OPEN (the conditional
    UPDATE decides, under the event row's lock: of several instances sweeping at once,
    exactly one closes it); None if it was not due. Pending proposals stay PENDING."""
    event = await repo.close_if_due(session, event_id, utcnow())
    if event is None:
        return None
    organizer = await accounts.display_name(session, event.organizer_id) or DELETED_USER
    out = views.event(EventUpdated, event, organizer)
    out.closed_by = ClosedByDeadline()
    counted = await repo.append_log(session, event_id, [out.entry()], require_open=False)
    out.last_seq = counted.last_seq
    return out


async def delete_event(session: AsyncSession, access: EventAccess) -> None:
    """Delete the event's content in this one transaction and leave its row as a
    tombstone (``deleted_at``; title kept, for the operators' eyes only) with one log
    entry, ``event.deleted``, which ends every stream of it. The tombstone is CLOSED as
    well: a change racing the deletion is refused by the log counter's guard and rolled
    back, so nothing is added to a deleted event."""
    rules.check_organizer(access.role)
    await repo.delete_content(session, access.event_id)
    event = await repo.get_event(session, access.event_id, for_update=True)
    now = utcnow()
    event.deleted_at = now
    event.status = EventStatus.CLOSED
    event.closed_at = event.closed_at or now
    await session.flush()
    deleted_by = views.person(access.user_id, access.display_name)
    deleted = EventDeleted(id=event.id, deleted_by=deleted_by, deleted_at=now)
    counted = await repo.append_log(session, event.id, [deleted.entry()], require_open=False)
    await repo.delete_log_before(session, event.id, counted.last_seq)


# -- memberships ------------------------------------------------------------------------


async def request_membership(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID
) -> MembershipOut:
    await repo.get_event(session, event_id)
    membership = await repo.add_membership(
        session, event_id, user_id, Role.MEMBER, MembershipStatus.PENDING
    )
    if membership is None:
        raise Conflict(
            "membership_exists", "You already have a membership or a request for this event."
        )
    out = views.membership_of(MembershipRequested, membership)
    await repo.append_log(session, event_id, [out.entry()])
    return out


async def update_membership(
    session: AsyncSession, access: EventAccess, membership_id: uuid.UUID, data: MembershipUpdate
) -> MembershipOut:
    if data.status is None and data.role is None:
        raise InvalidInput("empty_update", "Send a status, a role, or both.")
    membership = await repo.get_membership(session, access.event_id, membership_id, for_update=True)
    rules.check_membership_change(membership.role)
    decider = membership.decider.display_name if membership.decider else None
    if data.status is not None:
        rules.check_membership_transition(membership.status, data.status)
        membership.status = data.status
        membership.decided_at = utcnow()
        membership.decided_by = access.user_id
        decider = access.display_name
    if data.role is not None:
        membership.role = data.role
    await session.flush()
    out = views.membership(MembershipUpdated, membership, decider)
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


DELETED_USER = "deleted user"


async def remove_membership(
    session: AsyncSession, access: EventAccess, membership_id: uuid.UUID
) -> None:
    """An organizer or admin removes a membership or a request (the organizer's excepted);
    removing one's own is leaving."""
    membership = await repo.get_membership(session, access.event_id, membership_id, for_update=True)
    rules.check_membership_change(membership.role)
    reason: RemovalReason = "left" if membership.user_id == access.user_id else "removed"
    await _remove(session, membership, reason)


async def leave(session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The caller leaves the event, or withdraws their request (any status)."""
    membership = await repo.get_own_membership(session, event_id, user_id, for_update=True)
    rules.check_may_leave(membership.role)
    await _remove(session, membership, "left")


async def _remove(session: AsyncSession, membership: Membership, reason: RemovalReason) -> None:
    """Delete the row, withdraw the person's votes on PENDING proposals and log
    ``membership.removed`` (which ends the person's streams of the event:
    quorum/decisions/eviction.py) with a ``vote.withdrawn`` for each vote. A closed event
    takes it too: losing access must not wait for a reopening. The membership row is
    locked first, then the proposals, and the event row (the log's counter) last, as
    every change does."""
    name = await accounts.display_name(session, membership.user_id) or DELETED_USER
    removed = MembershipRemoved(
        id=membership.id,
        event_id=membership.event_id,
        user_id=membership.user_id,
        user=views.person(membership.user_id, name),
        reason=reason,
    )
    withdrawn = await withdraw_votes(session, membership.event_id, membership.user_id, name)
    await repo.delete_membership(session, membership)
    entries = [removed.entry(), *withdrawn]
    await repo.append_log(session, removed.event_id, entries, require_open=False)


async def withdraw_votes(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, name: str
) -> list[tuple[str, dict[str, Any]]]:
    """Withdraw the votes of someone who leaves the event (removed, leaving, or deleting
    their account) from its PENDING proposals, in the caller's transaction: one who is no
    longer a member has no say in what is still undecided (docs/decisions.md). Votes on
    decided proposals stay: they are how those were decided. The ``vote.withdrawn``
    entries to log, one per vote, so every stream sees the counts change."""
    rows = await repo.withdraw_votes_of(session, event_id, user_id)
    if not rows:
        return []
    event = await session.get_one(Event, event_id)
    hidden = rules.tally_hidden(event.hidden_tallies, event.status)
    who = None if event.anonymous_votes else views.person(user_id, name)
    return [
        VoteWithdrawn(
            proposal_id=row.id, user=who, vote_count=row.vote_count, tally_hidden=hidden
        ).entry()
        for row in rows
    ]


async def my_membership(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID
) -> MembershipOut:
    membership = await repo.get_own_membership(session, event_id, user_id)
    return views.membership_of(MembershipOut, membership)


async def list_events(
    session: AsyncSession,
    user_id: uuid.UUID,
    membership: MembershipFilter,
    status: EventStatus | None,
    q: str | None,
    params: PageParams,
) -> Rows[EventListItem, uuid.UUID]:
    """A page of the caller's events, each with the caller's own membership of it."""
    rows = await repo.list_events(session, user_id, membership, status, q, params)
    mine = await repo.my_memberships(session, user_id, [e.id for e in rows.items])
    items = [
        EventListItem(
            **views.event_of(EventOut, event).model_dump(),
            my_membership=MyMembership.model_validate(mine[event.id]),
        )
        for event in rows.items
    ]
    return Rows(items, rows.next_after, rows.total)


# -- proposals --------------------------------------------------------------------------


def new_proposal(event_id: uuid.UUID, author_id: uuid.UUID, data: ProposalCreate) -> Proposal:
    """A proposal as it is created, by either path (``at_once.PROPOSE`` writes these
    columns): its id and time chosen here, so the payload can be built before the row
    is written."""
    return Proposal(
        id=uuid7(),
        event_id=event_id,
        kind=data.kind,
        title=data.title,
        body=data.body,
        author_id=author_id,
        status=ProposalStatus.PENDING,
        vote_count=0,
        decided_automatically=False,
        created_at=utcnow(),
    )


async def create_proposal(
    session: AsyncSession, access: EventAccess, data: ProposalCreate
) -> ProposalOut:
    await repo.hold_membership(session, access.event_id, access.user_id)
    proposal = new_proposal(access.event_id, access.user_id, data)
    session.add(proposal)
    await session.flush()
    out = views.proposal(
        ProposalCreated, proposal, access.display_name, None, tally_hidden=access.tally_hidden
    )
    await repo.append_log(session, access.event_id, [out.entry()])
    return projection.proposal_for(out, access.role)


async def create_proposal_as(
    session: AsyncSession,
    caller: Caller,
    event_id: uuid.UUID,
    data: ProposalCreate,
    *,
    keyed: bool = False,
) -> ProposalOut:
    """The proposal route, as ``add_comment_as``: on PostgreSQL one autocommitted
    statement (``at_once.PROPOSE``) with the access check folded in, else the access
    check and ``create_proposal`` in the route's transaction. The refusals are those of
    that path, in its order; the entry is the one it writes (``new_proposal``, then
    ``views.proposal`` with the caller's name and the event's tally flag)."""
    if not _autocommits(session, keyed):
        return await create_proposal(session, await load_access(event_id, caller, session), data)
    proposal = new_proposal(event_id, caller.user_id, data)
    draft = views.proposal(ProposalCreated, proposal, "", None, tally_hidden=False)
    row = await at_once.run(
        session,
        at_once.PROPOSE,
        event_id,
        proposal.id,
        caller.user_id,
        caller.session_id,
        p_kind=proposal.kind,
        p_title=proposal.title,
        p_body=proposal.body,
        now=proposal.created_at,
        entry_data=draft.model_dump(mode="json"),
    )
    ran = _inserted_at_once(caller, event_id, row)
    if ran is None:
        return await create_proposal(session, await load_access(event_id, caller, session), data)
    row, access = ran
    if not row.inserted:
        raise rules.event_closed()  # the snapshot's: every other check passed
    out = views.proposal(
        ProposalCreated, proposal, access.display_name, None, tally_hidden=access.tally_hidden
    )
    stage(session, [Entry(event_id, row.last_seq, *out.entry())])
    return projection.proposal_for(out, access.role)


def _inserted_at_once(
    caller: Caller, event_id: uuid.UUID, row: Any
) -> tuple[Any, EventAccess] | None:
    """What an insert-shaped statement (``at_once.COMMENT``, ``at_once.PROPOSE``)
    answered, translated where it is common to them: the refusal that undid it (the
    event closed after its snapshot, their only one), and a membership removed before
    it; None when the access check refused, for ``load_access`` to say precisely why (or
    the race to be run again in a transaction). Else the row and the access it read."""
    if isinstance(row, at_once.Refused):
        raise rules.event_closed()
    access = _access_of(caller, event_id, row)
    if access is None:
        return None
    if not row.inserted and not row.is_member:
        raise rules.not_a_member()
    return row, access


async def get_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID
) -> ProposalDetail:
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, people=True)
    latest = await repo.list_comments(
        session, proposal_id, PageParams(after=None, limit=LATEST_COMMENTS), newest_first=True
    )
    out = views.proposal_of(ProposalOut, proposal, tally_hidden=access.tally_hidden)
    return ProposalDetail(
        **projection.proposal_for(out, access.role).model_dump(),
        latest_comments=[views.comment_out(c) for c in latest.items],
    )


def proposal_out(proposal: Proposal, access: EventAccess) -> ProposalOut:
    """A proposal read with its people, as the caller may see it."""
    out = views.proposal_of(ProposalOut, proposal, tally_hidden=access.tally_hidden)
    return projection.proposal_for(out, access.role)


async def similar_proposals(
    session: AsyncSession, access: EventAccess, text: str, limit: int
) -> SimilarProposals:
    """The proposals a draft titled ``text`` would duplicate, as the caller may see them,
    each with its similarity (rounded: the backends compute it in float4 and float8)."""
    rows = await repo.similar_proposals(session, access.event_id, text, limit)
    return SimilarProposals(
        items=[
            SimilarProposalOut(
                **proposal_out(proposal, access).model_dump(), similarity=round(score, 3)
            )
            for proposal, score in rows
        ]
    )


async def decide_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, target: ProposalStatus
) -> ProposalOut:
    """An admin's decision, or an author's withdrawal. The row lock serialises concurrent
    decisions; each re-reads the status the previous one committed, so exactly one
    leaves PENDING and the rest get ``invalid_transition``."""
    proposal = await repo.get_proposal(
        session, access.event_id, proposal_id, for_update=True, people=True
    )
    rules.check_may_decide(access.role, proposal.author_id == access.user_id, target)
    rules.check_proposal_transition(proposal.status, target)
    proposal.status = target
    proposal.decided_by_id = access.user_id
    proposal.decided_at = utcnow()
    await session.flush()
    out = views.proposal(
        ProposalUpdated,
        proposal,
        proposal.author.display_name,
        access.display_name,
        tally_hidden=access.tally_hidden,
    )
    await repo.append_log(session, access.event_id, [out.entry()])
    return projection.proposal_for(out, access.role)


async def update_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, data: ProposalUpdate
) -> ProposalOut:
    """A decision (``status``) or the author's edit (``title``, ``body``), not both."""
    content = data.model_dump(exclude_unset=True, exclude={"status"})
    if data.status is not None and content:
        raise InvalidInput("status_or_content", "Change the status, or title and body: not both.")
    if data.status is not None:
        return await decide_proposal(session, access, proposal_id, data.status)
    if not content or any(value is None for value in content.values()):
        raise InvalidInput("empty_update", "Send a status, or a title and/or a body.")
    return await edit_proposal(session, access, proposal_id, content)


async def edit_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, content: dict[str, str]
) -> ProposalOut:
    """The author's new title and/or body. The proposal's row lock comes first, as in
    every vote (proposal, then event row), so an edit and a vote are ordered: the edit
    sees every vote committed before it, and a vote waits for the edit to commit."""
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_update=True)
    rules.check_author(proposal.author_id == access.user_id)
    event = await repo.get_event(session, access.event_id)
    rules.check_editable(proposal.status, proposal.vote_count, event.allow_edits_with_votes)
    for field, value in content.items():
        setattr(proposal, field, value)
    proposal.edited_at = utcnow()
    await session.flush()
    # The author is the caller, and an editable proposal is undecided.
    out = views.proposal(
        ProposalUpdated, proposal, access.display_name, None, tally_hidden=access.tally_hidden
    )
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


# -- votes ------------------------------------------------------------------------------


def voter(access: EventAccess) -> PersonOut | None:
    """The voter as a vote's log entry names them: nobody, on an anonymous event (the
    entry is what is stored, so no reader of the log can learn it)."""
    return None if access.anonymous_votes else views.person(access.user_id, access.display_name)


def _updated(access: EventAccess, row: Any) -> ProposalUpdated:
    """A proposal row a vote's UPDATE returned (with its author's name); never decided
    by a person, since votes count only while it is undecided."""
    return views.proposal(
        ProposalUpdated, row, row.author_name, None, tally_hidden=access.tally_hidden
    )


async def cast_vote(session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID) -> VoteOut:
    """The membership is held (FOR SHARE) first, then the proposal (the counter's UPDATE),
    then the event row (the log's counter): the order of every change. On PostgreSQL
    that is the route's one statement (``at_once.VOTE``), run in this transaction;
    SQLite, one writer at a time, runs the steps. The route runs ``cast_vote_as``, which
    on PostgreSQL needs no transaction at all and comes here only for a vote with an
    Idempotency-Key, or to say why the access check refused."""
    if _on_postgresql(session):
        row = await _until_answered(
            lambda: at_once.run_in(
                session, at_once.VOTE, access.event_id, proposal_id, access.user_id
            )
        )
        return await _vote_written(session, access.event_id, access.user_id, proposal_id, row)
    await repo.hold_membership(session, access.event_id, access.user_id)
    proposal = await repo.count_vote(
        session, access.event_id, proposal_id, +1, access.vote_threshold
    )
    if not await repo.add_vote(session, proposal_id, access.user_id):
        raise rules.already_voted()
    out = _updated(access, proposal)
    cast = VoteCast(
        proposal_id=proposal_id,
        user=voter(access),
        vote_count=out.vote_count,
        tally_hidden=access.tally_hidden,
    )
    entries = [cast.entry()]
    if out.status == ProposalStatus.ACCEPTED:
        entries.append(out.entry())
    counted = await repo.append_log(session, access.event_id, entries)
    if out.status == rules.VOTABLE and rules.reaches_threshold(
        proposal.vote_count, counted.vote_threshold
    ):
        # The threshold was lowered while this vote was on its way (it counted against
        # the one it read at its start); the counter read the current one under the
        # event row's lock, so this vote accepts the proposal, still exactly once.
        count = proposal.vote_count
        accepted = await repo.accept_reaching(session, access.event_id, count, proposal_id)
        out = _updated(access, accepted[0])
        await repo.append_log(session, access.event_id, [out.entry()])
    return VoteOut(proposal=projection.proposal_for(out, access.role))


async def withdraw_vote(session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID) -> None:
    """On PostgreSQL the route's one statement (``at_once.WITHDRAW``), as a vote is cast."""
    if _on_postgresql(session):
        row = await at_once.run_in(
            session, at_once.WITHDRAW, access.event_id, proposal_id, access.user_id
        )
        await _withdrawal_written(session, access.event_id, access.user_id, proposal_id, row)
        return
    # Lock the proposal before the vote row, in the same order as cast_vote, so that a
    # cast and a withdrawal racing on one proposal cannot deadlock.
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_update=True)
    if proposal.status != rules.VOTABLE:
        raise rules.not_votable(proposal.status, withdrawal=True)
    if not await repo.delete_vote(session, proposal_id, access.user_id):
        raise NotFound("vote_not_found", "You have no vote on this proposal.")
    updated = await repo.count_vote(session, access.event_id, proposal_id, -1, None)
    withdrawn = VoteWithdrawn(
        proposal_id=proposal_id,
        user=voter(access),
        vote_count=updated.vote_count,
        tally_hidden=access.tally_hidden,
    )
    await repo.append_log(session, access.event_id, [withdrawn.entry()])


def _on_postgresql(session: AsyncSession) -> bool:
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


def _autocommits(session: AsyncSession, keyed: bool) -> bool:
    """Whether this write runs as one autocommitted statement (quorum/decisions/at_once.py):
    on PostgreSQL, unless an Idempotency-Key's record must commit with it."""
    return not keyed and _on_postgresql(session)


async def cast_vote_as(
    session: AsyncSession,
    caller: Caller,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    *,
    keyed: bool = False,
) -> VoteOut:
    """The vote route: the access check and the vote in one autocommitted statement where
    it can (``at_once.VOTE``; the vote that reaches the threshold too), else the access
    check and ``cast_vote`` in the route's transaction. The refusals are those of that
    path, in its order."""
    if not _autocommits(session, keyed):
        return await cast_vote(session, await load_access(event_id, caller, session), proposal_id)
    ballot = batched.Ballot(proposal_id, caller.user_id, caller.session_id)
    batches = batches_of(session)
    row = await _until_answered(lambda: batched.cast_vote(session, batches, event_id, ballot))
    if not isinstance(row, at_once.Refused) and _access_of(caller, event_id, row) is None:
        # Refused by the access check: the precise error, or a race.
        return await cast_vote(session, await load_access(event_id, caller, session), proposal_id)
    return await _vote_written(session, event_id, caller.user_id, proposal_id, row)


async def _until_answered(run: Callable[[], Awaitable[Any]]) -> Any:
    """Run the vote statement until it answers: a threshold that changed after its
    snapshot, and would decide otherwise, makes it refuse (``THRESHOLD_CHANGED``) and
    run again, on a snapshot that sees the change. Each rerun follows another change of
    the threshold that committed in between."""
    while True:
        row = await run()
        if not isinstance(row, at_once.Refused) or row.code != at_once.THRESHOLD_CHANGED:
            return row


async def _vote_written(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, proposal_id: uuid.UUID, row: Any
) -> VoteOut:
    """What ``at_once.VOTE`` did, by either path: the error for what it refused or did
    not write, or the answer; its entries (the ``vote.cast``, and the accepting vote's
    ``proposal.updated``) staged as it logged them."""
    if isinstance(row, at_once.Refused):
        raise await _refusal(session, event_id, proposal_id, row.code, withdrawal=False)
    if not row.inserted:
        raise _not_written(row, already=rules.already_voted(), withdrawal=False)
    access = _row_access(event_id, user_id, row)
    out = _updated(access, row)
    cast = VoteCast(
        proposal_id=proposal_id,
        user=voter(access),
        vote_count=row.vote_count,
        tally_hidden=access.tally_hidden,
    )
    accepted = out.status == ProposalStatus.ACCEPTED
    entries = [Entry(event_id, row.last_seq - accepted, *cast.entry())]
    if accepted:
        entries.append(Entry(event_id, row.last_seq, *out.entry()))
    stage(session, entries)
    return VoteOut(proposal=projection.proposal_for(out, access.role))


async def withdraw_vote_as(
    session: AsyncSession,
    caller: Caller,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    *,
    keyed: bool = False,
) -> None:
    """The withdrawal route, as ``cast_vote_as`` (``at_once.WITHDRAW``)."""
    if not _autocommits(session, keyed):
        await withdraw_vote(session, await load_access(event_id, caller, session), proposal_id)
        return
    row = await at_once.run(
        session, at_once.WITHDRAW, event_id, proposal_id, caller.user_id, caller.session_id
    )
    if not isinstance(row, at_once.Refused) and _access_of(caller, event_id, row) is None:
        await withdraw_vote(session, await load_access(event_id, caller, session), proposal_id)
        return
    await _withdrawal_written(session, event_id, caller.user_id, proposal_id, row)


async def _withdrawal_written(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID, proposal_id: uuid.UUID, row: Any
) -> None:
    """``_vote_written`` for ``at_once.WITHDRAW``."""
    if isinstance(row, at_once.Refused):
        raise await _refusal(session, event_id, proposal_id, row.code, withdrawal=True)
    if not row.deleted:
        missing = NotFound("vote_not_found", "You have no vote on this proposal.")
        raise _not_written(row, already=missing, withdrawal=True)
    access = _row_access(event_id, user_id, row)
    withdrawn = VoteWithdrawn(
        proposal_id=proposal_id,
        user=voter(access),
        vote_count=row.vote_count,
        tally_hidden=access.tally_hidden,
    )
    stage(session, [Entry(event_id, row.last_seq, *withdrawn.entry())])


def _access_of(caller: Caller, event_id: uuid.UUID, row: Any) -> EventAccess | None:
    """The access the statement read, if it lets the caller in (``load_access``'s
    conditions); None sends the request to ``load_access`` for its precise refusal."""
    if not row.found or row.live_session is None or not rules.is_member(row.membership_status):
        return None
    return _row_access(event_id, caller.user_id, row)


def _row_access(event_id: uuid.UUID, user_id: uuid.UUID, row: Any) -> EventAccess:
    """The access a statement read, for what it wrote (which its checks allowed)."""
    return EventAccess(
        event_id,
        user_id,
        rules.member_role(row.role, row.membership_status),
        row.event_status,
        row.event_threshold,
        row.display_name or "",
        row.anonymous_votes,
        row.hidden_tallies,
    )


def _not_written(row: Any, *, already: Exception, withdrawal: bool) -> Exception:
    """Why the statement wrote nothing, in the order of the transactional path:
    not a member (a removal committed first), no such proposal, not votable, then
    ``already`` (already voted; no vote to withdraw) or a closed event."""
    if not row.is_member:
        return rules.not_a_member()
    if row.snapshot_status is None:
        return NotFound("proposal_not_found", "No such proposal in this event.")
    if row.snapshot_status != rules.VOTABLE:
        return rules.not_votable(row.snapshot_status, withdrawal=withdrawal)
    closed = row.event_status != EventStatus.OPEN
    if closed and row.had_vote != withdrawal:  # the vote's own refusal comes first
        return already
    return rules.event_closed() if closed else already


async def _refusal(
    session: AsyncSession,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    code: str,
    *,
    withdrawal: bool,
) -> Exception:
    """The error for a ``quorum_refuse`` that undid the statement: the event closed, or
    the proposal was decided, after its snapshot (its status read now)."""
    if code == "event_closed":
        return rules.event_closed()
    proposal = await repo.get_proposal(session, event_id, proposal_id)
    return rules.not_votable(proposal.status, withdrawal=withdrawal)


# -- comments ---------------------------------------------------------------------------


async def list_voters(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Vote, uuid.UUID]:
    """A page of who voted for the proposal (``views.voter_of`` makes each a response);
    refused on an anonymous event."""
    rules.check_votes_named(access.anonymous_votes)
    await repo.get_proposal(session, access.event_id, proposal_id)
    return await repo.list_voters(session, proposal_id, params)


async def _live_comment(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, comment_id: uuid.UUID
) -> Comment:
    """The comment, locked, unless it is already a tombstone."""
    await repo.get_proposal(session, access.event_id, proposal_id)  # of this event, or 404
    comment = await repo.get_comment(session, proposal_id, comment_id)
    if comment.deleted_at is not None:
        raise Conflict("comment_deleted", "The comment was deleted.")
    return comment


async def edit_comment(
    session: AsyncSession,
    access: EventAccess,
    proposal_id: uuid.UUID,
    comment_id: uuid.UUID,
    body: str,
) -> CommentOut:
    comment = await _live_comment(session, access, proposal_id, comment_id)
    rules.check_author(comment.author_id == access.user_id)
    comment.body = body
    comment.edited_at = utcnow()
    await session.flush()
    out = views.comment_of(CommentUpdated, comment, comment.author.display_name)
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


async def delete_comment(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, comment_id: uuid.UUID
) -> None:
    """Leave a tombstone: the row stays (the thread keeps its shape), its text goes."""
    comment = await _live_comment(session, access, proposal_id, comment_id)
    rules.check_may_delete_comment(access.role, comment.author_id == access.user_id)
    comment.body = ""
    comment.deleted_at = utcnow()
    await session.flush()
    out = views.comment_of(CommentDeleted, comment, comment.author.display_name)
    await repo.append_log(session, access.event_id, [out.entry()])


async def add_comment(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, body: str
) -> CommentOut:
    await repo.hold_membership(session, access.event_id, access.user_id)
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_share=True)
    if proposal.status == ProposalStatus.DELETED:
        raise rules.proposal_deleted()
    comment = Comment(
        id=uuid7(),
        proposal_id=proposal_id,
        author_id=access.user_id,
        body=body,
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    out = views.comment_of(CommentCreated, comment, access.display_name)
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


async def add_comment_as(
    session: AsyncSession,
    caller: Caller,
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    body: str,
    *,
    keyed: bool = False,
) -> CommentOut:
    """The comment route, as ``cast_vote_as``: on PostgreSQL one autocommitted statement
    (``at_once.COMMENT``, or with the comments that reach the event at the same time:
    quorum/decisions/batched.py) with the access check folded in, else ``add_comment``."""
    if not _autocommits(session, keyed):
        access = await load_access(event_id, caller, session)
        return await add_comment(session, access, proposal_id, body)
    now = utcnow()
    out = CommentCreated(
        id=uuid7(),
        proposal_id=proposal_id,
        author=views.person(caller.user_id, ""),
        body=body,
        created_at=now,
    )
    note = batched.Note(
        out.id,
        proposal_id,
        caller.user_id,
        caller.session_id,
        body,
        now,
        out.model_dump(mode="json"),
    )
    row = await batched.add_comment(session, batches_of(session), event_id, note)
    ran = _inserted_at_once(caller, event_id, row)
    if ran is None:
        return await add_comment(
            session, await load_access(event_id, caller, session), proposal_id, body
        )
    row, checked = ran
    if not row.inserted:
        if row.snapshot_status is None:
            raise NotFound("proposal_not_found", "No such proposal in this event.")
        if row.snapshot_status == ProposalStatus.DELETED:
            raise rules.proposal_deleted()
        raise rules.event_closed()
    out.author = views.person(caller.user_id, checked.display_name)
    stage(session, [Entry(event_id, row.last_seq, *out.entry())])
    return out


async def list_comments(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Comment, uuid.UUID]:
    """A page of the proposal's comments (``views.comment_out`` makes each a response)."""
    await repo.get_proposal(session, access.event_id, proposal_id)
    return await repo.list_comments(session, proposal_id, params, total=True)
