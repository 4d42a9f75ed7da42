"""Use cases of the decisions domain. Each runs inside the caller's unit of work, writes
its event-log entries in that same transaction, and returns response schemas."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as accounts
from quorum.accounts.service import user_not_found
from quorum.db.base import utcnow, uuid7
from quorum.db.repository import PageParams, Rows
from quorum.decisions import repository as repo
from quorum.decisions import rules
from quorum.decisions.access import EventAccess
from quorum.decisions.events import (
    CommentCreated,
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
    ProposalCreate,
    ProposalDetail,
    ProposalOut,
    VoteOut,
)
from quorum.errors import Conflict, InvalidInput, NotFound

LATEST_COMMENTS = 10


# -- events -----------------------------------------------------------------------------


async def create_event(session: AsyncSession, user_id: uuid.UUID, data: EventCreate) -> EventOut:
    now = utcnow()
    event = Event(
        id=uuid7(),
        title=data.title,
        description=data.description,
        vote_threshold=data.vote_threshold,
        organizer_id=user_id,
        status=EventStatus.OPEN,
        last_seq=0,
        created_at=now,
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
    return EventOut.model_validate(event)


async def update_event(session: AsyncSession, access: EventAccess, data: EventUpdate) -> EventOut:
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("empty_update", "Send at least one field to change.")
    for field in ("title", "status"):  # both columns are NOT NULL: refuse, rather than a 500
        if field in changes and changes[field] is None:
            raise InvalidInput(f"{field}_required", f"An event's {field} cannot be null.")
    if changes.get("description", "") is None:
        changes["description"] = ""
    new_threshold = changes.get("vote_threshold")
    may_accept = rules.threshold_change_accepts(new_threshold, changes.get("status"))
    if may_accept:
        await repo.lock_pending_proposals(session, access.event_id)
    event = await repo.get_event(session, access.event_id, for_update=True)
    rules.check_event_change(event.status, changes.get("status"))
    for field, value in changes.items():
        setattr(event, field, value)
    await session.flush()
    out = EventUpdated.model_validate(event)
    entries = [out.entry()]
    if may_accept and new_threshold is not None:
        # Proposals that the new threshold already decides are accepted by this change.
        accepted = await repo.accept_reaching(session, event.id, new_threshold)
        entries += [ProposalUpdated.model_validate(p).entry() for p in accepted]
    counted = await repo.append_log(session, event.id, entries, require_open=False)
    out.last_seq = counted.last_seq
    return out


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
    out = MembershipRequested.model_validate(membership)
    await repo.append_log(session, event_id, [out.entry()])
    return out


async def update_membership(
    session: AsyncSession, access: EventAccess, membership_id: uuid.UUID, data: MembershipUpdate
) -> MembershipOut:
    if data.status is None and data.role is None:
        raise InvalidInput("empty_update", "Send a status, a role, or both.")
    membership = await repo.get_membership(session, access.event_id, membership_id, for_update=True)
    rules.check_membership_change(membership.role)
    if data.status is not None:
        rules.check_membership_transition(membership.status, data.status)
        membership.status = data.status
        membership.decided_at = utcnow()
        membership.decided_by = access.user_id
    if data.role is not None:
        membership.role = data.role
    await session.flush()
    out = MembershipUpdated.model_validate(membership)
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
    """Delete the row and log ``membership.removed``, which ends the person's streams of
    the event (quorum/decisions/eviction.py). A closed event takes it too: losing access
    must not wait for a reopening. The membership row is locked first and the event row
    (the log's counter) last, as every change does."""
    name = await accounts.display_name(session, membership.user_id) or DELETED_USER
    removed = MembershipRemoved(
        id=membership.id,
        event_id=membership.event_id,
        user_id=membership.user_id,
        display_name=name,
        reason=reason,
    )
    await repo.delete_membership(session, membership)
    await repo.append_log(session, removed.event_id, [removed.entry()], require_open=False)


async def my_membership(
    session: AsyncSession, event_id: uuid.UUID, user_id: uuid.UUID
) -> MembershipOut:
    return MembershipOut.model_validate(await repo.get_own_membership(session, event_id, user_id))


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
            **EventOut.model_validate(event).model_dump(),
            my_membership=MyMembership.model_validate(mine[event.id]),
        )
        for event in rows.items
    ]
    return Rows(items, rows.next_after)


# -- proposals --------------------------------------------------------------------------


async def create_proposal(
    session: AsyncSession, access: EventAccess, data: ProposalCreate
) -> ProposalOut:
    proposal = Proposal(
        id=uuid7(),
        event_id=access.event_id,
        kind=data.kind,
        title=data.title,
        body=data.body,
        author_id=access.user_id,
        status=ProposalStatus.PENDING,
        vote_count=0,
        created_at=utcnow(),
    )
    session.add(proposal)
    await session.flush()
    out = ProposalCreated.model_validate(proposal)
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


async def get_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID
) -> ProposalDetail:
    proposal = await repo.get_proposal(session, access.event_id, proposal_id)
    latest = await repo.list_comments(
        session, proposal_id, PageParams(after=None, limit=LATEST_COMMENTS), newest_first=True
    )
    return ProposalDetail(
        **ProposalOut.model_validate(proposal).model_dump(),
        latest_comments=[comment_out(c) for c in latest.items],
    )


async def decide_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, target: ProposalStatus
) -> ProposalOut:
    """An admin's decision, or an author's withdrawal. The row lock serialises concurrent
    decisions; each re-reads the status the previous one committed, so exactly one
    leaves PENDING and the rest get ``invalid_transition``."""
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_update=True)
    rules.check_may_decide(access.role, proposal.author_id == access.user_id, target)
    rules.check_proposal_transition(proposal.status, target)
    proposal.status = target
    proposal.decided_by = str(access.user_id)
    proposal.decided_at = utcnow()
    await session.flush()
    out = ProposalUpdated.model_validate(proposal)
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


# -- votes ------------------------------------------------------------------------------


async def cast_vote(session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID) -> VoteOut:
    proposal = await repo.count_vote(
        session, access.event_id, proposal_id, +1, access.vote_threshold
    )
    if not await repo.add_vote(session, proposal_id, access.user_id):
        raise Conflict("already_voted", "You have already voted for this proposal.")
    out = ProposalUpdated.model_validate(proposal)
    entries = [
        VoteCast(proposal_id=proposal_id, user_id=access.user_id, vote_count=out.vote_count).entry()
    ]
    if out.status == ProposalStatus.ACCEPTED:
        entries.append(out.entry())
    counted = await repo.append_log(session, access.event_id, entries)
    if out.status == rules.VOTABLE and rules.reaches_threshold(
        out.vote_count, counted.vote_threshold
    ):
        # The threshold was lowered while this vote was on its way (it counted against
        # the one it read at its start); the counter read the current one under the
        # event row's lock, so this vote accepts the proposal, still exactly once.
        accepted = await repo.accept_reaching(session, access.event_id, out.vote_count, proposal_id)
        out = ProposalUpdated.model_validate(accepted[0])
        await repo.append_log(session, access.event_id, [out.entry()])
    return VoteOut(proposal=out)


async def withdraw_vote(session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID) -> None:
    # Lock the proposal before the vote row, in the same order as cast_vote, so that a
    # cast and a withdrawal racing on one proposal cannot deadlock.
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_update=True)
    if proposal.status != rules.VOTABLE:
        raise rules.not_votable(proposal.status, withdrawal=True)
    if not await repo.delete_vote(session, proposal_id, access.user_id):
        raise NotFound("vote_not_found", "You have no vote on this proposal.")
    updated = await repo.count_vote(session, access.event_id, proposal_id, -1, None)
    withdrawn = VoteWithdrawn(
        proposal_id=proposal_id, user_id=access.user_id, vote_count=updated.vote_count
    )
    await repo.append_log(session, access.event_id, [withdrawn.entry()])


# -- comments ---------------------------------------------------------------------------


def comment_out(comment: Comment) -> CommentOut:
    return CommentOut(
        id=comment.id,
        proposal_id=comment.proposal_id,
        author_id=comment.author_id,
        author_name=comment.author.display_name,
        body=comment.body,
        created_at=comment.created_at,
    )


async def add_comment(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, body: str
) -> CommentOut:
    proposal = await repo.get_proposal(session, access.event_id, proposal_id, for_share=True)
    if proposal.status == ProposalStatus.DELETED:
        raise Conflict("proposal_deleted", "The proposal was deleted: it takes no comments.")
    author_name = await accounts.display_name(session, access.user_id)
    if author_name is None:  # deleted since the membership was checked
        raise user_not_found()
    comment = Comment(
        id=uuid7(),
        proposal_id=proposal_id,
        author_id=access.user_id,
        body=body,
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    out = CommentCreated(
        id=comment.id,
        proposal_id=proposal_id,
        author_id=access.user_id,
        author_name=author_name,
        body=body,
        created_at=comment.created_at,
    )
    await repo.append_log(session, access.event_id, [out.entry()])
    return out


async def list_comments(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Comment, uuid.UUID]:
    """A page of the proposal's comments (``comment_out`` makes each a response)."""
    await repo.get_proposal(session, access.event_id, proposal_id)
    return await repo.list_comments(session, proposal_id, params)
