"""HTTP routes of the decisions domain (prefix /api/v1)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from quorum.api.deps import CurrentUserId, SessionDep, TokenCaller
from quorum.api.idempotency import IdempotencyDep
from quorum.api.pagination import (
    MAX_LIMIT,
    CursorPage,
    Page,
    cursor_page,
    decode_sorted_cursor,
    page,
    page_params,
    sorted_page,
)
from quorum.api.plain import served_by
from quorum.api.problems import (
    AUTH,
    DATABASE,
    IDEMPOTENT,
    JSON_BODY,
    NO_BODY,
    PAGE,
    SORTED_PAGE,
    VALIDATION_ERROR,
    problems,
)
from quorum.api.routing import TransactionalRoute
from quorum.api.text import NoNul, Stripped
from quorum.db.repository import PageParams
from quorum.decisions import projection, rules, search, service, views, writes
from quorum.decisions import repository as repo
from quorum.decisions.access import EventAdmin, EventMember
from quorum.decisions.models import (
    TITLE_MAX,
    EventStatus,
    MembershipStatus,
    ProposalKind,
    ProposalStatus,
)
from quorum.decisions.problems import (
    ADMIN,
    AFTER_NEEDS_ASC,
    ALLOW_EDITS_REQUIRED,
    ALREADY_VOTED,
    BEFORE_NEEDS_DESC,
    CHANGE,
    CLOSES_AT_NOT_FUTURE,
    COMMENT_DELETED,
    COMMENT_NOT_FOUND,
    EMPTY_UPDATE,
    EVENT_NOT_FOUND,
    INVALID_TRANSITION,
    MEMBER,
    MEMBERSHIP_ALREADY_DECIDED,
    MEMBERSHIP_EXISTS,
    MEMBERSHIP_NOT_FOUND,
    NOT_ALLOWED,
    NOT_ALLOWED_COMMENT,
    NOT_AUTHOR,
    OPTION_FIXED,
    ORGANIZER_CANNOT_LEAVE,
    ORGANIZER_MEMBERSHIP_FIXED,
    ORGANIZER_REQUIRED,
    PROPOSAL_DELETED,
    PROPOSAL_HAS_VOTES,
    PROPOSAL_NOT_EDITABLE,
    PROPOSAL_NOT_FOUND,
    PROPOSAL_NOT_PENDING,
    STATUS_OR_CONTENT,
    STATUS_REQUIRED,
    TALLIES_HIDDEN,
    TITLE_REQUIRED,
    VOTE_NOT_FOUND,
    VOTES_ANONYMOUS,
)
from quorum.decisions.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    EventCreate,
    EventListItem,
    EventOut,
    EventUpdate,
    LogEntryOut,
    LogOrder,
    LogPage,
    MemberOut,
    MembershipFilter,
    MembershipOut,
    MembershipUpdate,
    ProposalCreate,
    ProposalDetail,
    ProposalOut,
    ProposalSort,
    ProposalUpdate,
    SimilarProposals,
    VoteOut,
    VoterOut,
)
from quorum.errors import InvalidInput

# The hot writes (``served_by``) are served by quorum/decisions/writes.py, with the same
# answers; their endpoints here serve the requests that carry an Idempotency-Key.
router = APIRouter(
    route_class=TransactionalRoute, dependencies=[IdempotencyDep], tags=["decisions"]
)
PageDep = Annotated[PageParams, Depends(page_params)]
CursorPageDep = Annotated[CursorPage, Depends(cursor_page)]
# Only a UUID matches the id, so that ``/memberships/me`` never reaches these routes: a
# method it lacks (PATCH) is 405, not a 422 about an id that was never one.
MEMBERSHIP_PATH = "/events/{event_id}/memberships/{membership_id:uuid}"
# The same for proposals, so that ``/proposals/similar`` is never taken for an id.
PROPOSAL_PATH = "/events/{event_id}/proposals/{proposal_id:uuid}"
MAX_SEQ = 2**63 - 1  # log seqs are BIGINT: a larger ``after`` must be a 422, not a 500


@router.post(
    "/events",
    status_code=201,
    responses=problems(AUTH, JSON_BODY, IDEMPOTENT, DATABASE, CLOSES_AT_NOT_FUTURE),
)
async def create_event(body: EventCreate, user_id: CurrentUserId, session: SessionDep) -> EventOut:
    """Create an event; the caller becomes its organizer, an approved member. With
    ``closes_at`` (a future time with its offset) it closes by itself then."""
    return await service.create_event(session, user_id, body)


@router.get("/events", responses=problems(AUTH, PAGE, DATABASE))
async def list_events(
    user_id: CurrentUserId,
    session: SessionDep,
    params: PageDep,
    status: EventStatus | None = None,
    q: Annotated[Annotated[str, NoNul] | None, Query(max_length=200)] = None,
    membership: MembershipFilter = MembershipFilter.APPROVED,
) -> Page[EventListItem]:
    """The caller's events, newest first, each with ``my_membership``: those they are an
    approved member of (``membership=approved``, the default), those they asked to join
    (``pending``), or all (``all``, rejected requests included); ``q`` searches titles."""
    rows = await service.list_events(session, user_id, membership, status, q, params)
    return page(rows, _same)


def _same(item: EventListItem) -> EventListItem:
    return item


@router.get("/events/{event_id}", responses=problems(MEMBER))
async def get_event(access: EventMember, session: SessionDep) -> EventOut:
    """One event, for its members."""
    event = await repo.get_event(session, access.event_id, people=True)
    return views.event_of(EventOut, event)


@router.patch(
    "/events/{event_id}",
    responses=problems(
        ADMIN,
        JSON_BODY,
        CHANGE,
        EMPTY_UPDATE,
        TITLE_REQUIRED,
        STATUS_REQUIRED,
        ALLOW_EDITS_REQUIRED,
        CLOSES_AT_NOT_FUTURE,
        OPTION_FIXED,
    ),
)
async def update_event(body: EventUpdate, access: EventAdmin, session: SessionDep) -> EventOut:
    """Change an event's title, description, threshold, deadline (``closes_at``, null: none),
    outcome or status (organizer or admin). A closed event changes only by being reopened,
    except for its ``outcome``, which may be written after the close. The voting options
    (``anonymous_votes``, ``hidden_tallies``) are chosen at creation: sending either is 422
    ``option_fixed``."""
    return await service.update_event(session, access, body)


@router.delete(
    "/events/{event_id}",
    status_code=204,
    responses=problems(MEMBER, NO_BODY, IDEMPOTENT, ORGANIZER_REQUIRED),
)
async def delete_event(access: EventMember, session: SessionDep) -> Response:
    """Delete the event (its organizer only): its proposals, votes, comments, memberships
    and log go, in one transaction; every open stream receives ``event.deleted`` and
    ends, and the event is 404 ``event_not_found`` from then on."""
    await service.delete_event(session, access)
    return Response(status_code=204)


@router.post(
    "/events/{event_id}/memberships",
    status_code=201,
    responses=problems(
        AUTH,
        VALIDATION_ERROR,
        NO_BODY,
        CHANGE,
        EVENT_NOT_FOUND,
        MEMBERSHIP_EXISTS,
        DATABASE,
    ),
)
async def request_membership(
    event_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> MembershipOut:
    """Ask to join an event: a PENDING request that an organizer or admin decides on."""
    return await service.request_membership(session, event_id, user_id)


@router.get("/events/{event_id}/memberships", responses=problems(MEMBER, PAGE))
async def list_memberships(
    access: EventMember,
    session: SessionDep,
    params: PageDep,
    status: MembershipStatus | None = None,
) -> Page[MembershipOut]:
    """The event's memberships and requests, oldest first, optionally by status."""
    rows = await repo.list_memberships(session, access.event_id, status, params)
    return page(rows, lambda m: views.membership_of(MembershipOut, m))


@router.get("/events/{event_id}/members", responses=problems(MEMBER, PAGE))
async def list_members(
    access: EventMember, session: SessionDep, params: PageDep
) -> Page[MemberOut]:
    """The event's approved members with their names and roles, oldest membership first."""
    rows = await repo.list_members(session, access.event_id, params)
    return page(rows, views.member_of)


@router.get(
    "/events/{event_id}/memberships/me",
    responses=problems(AUTH, VALIDATION_ERROR, EVENT_NOT_FOUND, MEMBERSHIP_NOT_FOUND, DATABASE),
)
async def get_my_membership(
    event_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep
) -> MembershipOut:
    """The caller's own membership or request, in any status (PENDING, APPROVED,
    REJECTED): how a person learns what became of their request."""
    return await service.my_membership(session, event_id, user_id)


@router.delete(
    "/events/{event_id}/memberships/me",
    status_code=204,
    responses=problems(
        AUTH,
        VALIDATION_ERROR,
        NO_BODY,
        IDEMPOTENT,
        EVENT_NOT_FOUND,
        MEMBERSHIP_NOT_FOUND,
        ORGANIZER_CANNOT_LEAVE,
        DATABASE,
    ),
)
async def leave_event(event_id: uuid.UUID, user_id: CurrentUserId, session: SessionDep) -> Response:
    """Leave the event (or withdraw a request): the membership is deleted, logged as
    ``membership.removed`` (``reason: "left"``), and the caller's streams of the event
    end. The organizer cannot leave (409 ``organizer_cannot_leave``)."""
    await service.leave(session, event_id, user_id)
    return Response(status_code=204)


@router.delete(
    MEMBERSHIP_PATH,
    status_code=204,
    responses=problems(
        ADMIN, NO_BODY, IDEMPOTENT, MEMBERSHIP_NOT_FOUND, ORGANIZER_MEMBERSHIP_FIXED
    ),
)
async def remove_membership(
    membership_id: uuid.UUID, access: EventAdmin, session: SessionDep
) -> Response:
    """Remove a member, an admin or a request (organizer or admin; never the organizer):
    the row is deleted, ``membership.removed`` (``reason: "removed"``) logged, and the
    person's streams of the event end at once, on every instance. They may ask again.
    Allowed on a closed event too: losing access does not wait for a reopening."""
    await service.remove_membership(session, access, membership_id)
    return Response(status_code=204)


@router.patch(
    MEMBERSHIP_PATH,
    responses=problems(
        ADMIN,
        JSON_BODY,
        CHANGE,
        EMPTY_UPDATE,
        MEMBERSHIP_NOT_FOUND,
        ORGANIZER_MEMBERSHIP_FIXED,
        MEMBERSHIP_ALREADY_DECIDED,
    ),
)
async def update_membership(
    membership_id: uuid.UUID, body: MembershipUpdate, access: EventAdmin, session: SessionDep
) -> MembershipOut:
    """Approve or reject a PENDING request, or change a member's role (organizer or admin)."""
    return await service.update_membership(session, access, membership_id, body)


@router.post(
    "/events/{event_id}/proposals", status_code=201, responses=problems(MEMBER, JSON_BODY, CHANGE)
)
@served_by(writes.create_proposal)
async def create_proposal(
    event_id: uuid.UUID,
    body: ProposalCreate,
    caller: TokenCaller,
    session: SessionDep,
    request: Request,
) -> ProposalOut:
    """Put forward an assumption, a criterion or a conclusion; it starts PENDING."""
    keyed = getattr(request.state, "idempotency", None) is not None
    return await service.create_proposal_as(session, caller, event_id, body, keyed=keyed)


@router.get("/events/{event_id}/proposals", responses=problems(MEMBER, SORTED_PAGE, TALLIES_HIDDEN))
async def list_proposals(
    access: EventMember,
    session: SessionDep,
    params: CursorPageDep,
    kind: ProposalKind | None = None,
    status: ProposalStatus | None = None,
    author: Annotated[
        uuid.UUID | Literal["me"] | None, Query(description="a user id, or `me`")
    ] = None,
    sort: ProposalSort = ProposalSort.NEWEST,
) -> Page[ProposalOut]:
    """The event's proposals, optionally by kind, status and author, with their
    ``total``. ``sort``: ``newest`` (the default), ``most_votes`` (ties newest first),
    ``recently_decided`` (decided ones only). A cursor continues the order it came
    from; with another ``sort`` it is 422 ``cursor_sort_mismatch``. Paging
    ``most_votes`` while votes change: see docs/decisions.md, "Lists people can use".
    While an event hides its tallies, ``most_votes`` is 403 ``tallies_hidden`` for
    members: the order would tell the counts."""
    if sort == ProposalSort.MOST_VOTES:
        rules.check_order_by_votes(access.tally_hidden, access.role)
    keyset = repo.PROPOSAL_ORDERS[sort]
    after = decode_sorted_cursor(params.cursor, sort, keyset.key_type) if params.cursor else None
    where = repo.ProposalFilter(kind, status, access.user_id if author == "me" else author)
    rows = await repo.list_proposals(session, access.event_id, where, sort, after, params.limit)
    return sorted_page(rows, sort, lambda p: service.proposal_out(p, access))


@router.get(PROPOSAL_PATH, responses=problems(MEMBER, PROPOSAL_NOT_FOUND))
async def get_proposal(
    proposal_id: uuid.UUID, access: EventMember, session: SessionDep
) -> ProposalDetail:
    """One proposal with its latest comments."""
    return await service.get_proposal(session, access, proposal_id)


@router.patch(
    PROPOSAL_PATH,
    responses=problems(
        MEMBER,
        JSON_BODY,
        CHANGE,
        PROPOSAL_NOT_FOUND,
        NOT_ALLOWED,
        INVALID_TRANSITION,
        NOT_AUTHOR,
        PROPOSAL_NOT_EDITABLE,
        PROPOSAL_HAS_VOTES,
        STATUS_OR_CONTENT,
        EMPTY_UPDATE,
    ),
)
async def update_proposal(
    proposal_id: uuid.UUID, body: ProposalUpdate, access: EventMember, session: SessionDep
) -> ProposalOut:
    """Decide on a PENDING proposal: accept or reject it (organizer or admin), delete it
    (also its author), withdraw it (its author only); a decided proposal is final. Or,
    as its author, edit its ``title`` and/or ``body`` while it is PENDING and has no votes
    (with votes too if the event has ``allow_edits_with_votes``): 409
    ``proposal_has_votes`` otherwise. A status and an edit are separate requests."""
    return await service.update_proposal(session, access, proposal_id, body)


@router.post(
    "/events/{event_id}/proposals/{proposal_id}/votes",
    status_code=201,
    responses=problems(
        MEMBER, NO_BODY, CHANGE, PROPOSAL_NOT_FOUND, ALREADY_VOTED, PROPOSAL_NOT_PENDING
    ),
)
@served_by(writes.cast_vote)
async def cast_vote(
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    caller: TokenCaller,
    session: SessionDep,
    request: Request,
) -> VoteOut:
    """Vote for a PENDING proposal, once; the vote that reaches the event's threshold
    accepts it. Takes no body (an empty one or ``{}`` is fine)."""
    keyed = getattr(request.state, "idempotency", None) is not None
    return await service.cast_vote_as(session, caller, event_id, proposal_id, keyed=keyed)


@router.get(
    "/events/{event_id}/proposals/{proposal_id}/votes",
    responses=problems(MEMBER, PAGE, PROPOSAL_NOT_FOUND, VOTES_ANONYMOUS),
)
async def list_votes(
    proposal_id: uuid.UUID, access: EventMember, session: SessionDep, params: PageDep
) -> Page[VoterOut]:
    """Who voted for a proposal and when, by voter id; 403 ``votes_anonymous`` on an
    event whose votes are anonymous."""
    rows = await service.list_voters(session, access, proposal_id, params)
    return page(rows, views.voter_of)


@router.delete(
    "/events/{event_id}/proposals/{proposal_id}/votes/me",
    status_code=204,
    responses=problems(
        MEMBER, NO_BODY, CHANGE, PROPOSAL_NOT_FOUND, VOTE_NOT_FOUND, PROPOSAL_NOT_PENDING
    ),
)
@served_by(writes.withdraw_vote)
async def withdraw_vote(
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    caller: TokenCaller,
    session: SessionDep,
    request: Request,
) -> Response:
    """Withdraw the caller's vote while the proposal is still PENDING."""
    keyed = getattr(request.state, "idempotency", None) is not None
    await service.withdraw_vote_as(session, caller, event_id, proposal_id, keyed=keyed)
    return Response(status_code=204)


@router.post(
    "/events/{event_id}/proposals/{proposal_id}/comments",
    status_code=201,
    responses=problems(MEMBER, JSON_BODY, CHANGE, PROPOSAL_NOT_FOUND, PROPOSAL_DELETED),
)
@served_by(writes.add_comment)
async def add_comment(
    event_id: uuid.UUID,
    proposal_id: uuid.UUID,
    body: CommentCreate,
    caller: TokenCaller,
    session: SessionDep,
    request: Request,
) -> CommentOut:
    """Comment on a proposal that has not been deleted."""
    keyed = getattr(request.state, "idempotency", None) is not None
    return await service.add_comment_as(
        session, caller, event_id, proposal_id, body.body, keyed=keyed
    )


@router.get(
    "/events/{event_id}/proposals/{proposal_id}/comments",
    responses=problems(MEMBER, PAGE, PROPOSAL_NOT_FOUND),
)
async def list_comments(
    proposal_id: uuid.UUID, access: EventMember, session: SessionDep, params: PageDep
) -> Page[CommentOut]:
    """A proposal's comments, oldest first."""
    rows = await service.list_comments(session, access, proposal_id, params)
    return page(rows, views.comment_out)


@router.patch(
    "/events/{event_id}/proposals/{proposal_id}/comments/{comment_id}",
    responses=problems(
        MEMBER,
        JSON_BODY,
        CHANGE,
        PROPOSAL_NOT_FOUND,
        COMMENT_NOT_FOUND,
        NOT_AUTHOR,
        COMMENT_DELETED,
    ),
)
async def edit_comment(
    proposal_id: uuid.UUID,
    comment_id: uuid.UUID,
    body: CommentUpdate,
    access: EventMember,
    session: SessionDep,
) -> CommentOut:
    """Change a comment's text (its author only); ``edited_at`` says when."""
    return await service.edit_comment(session, access, proposal_id, comment_id, body.body)


@router.delete(
    "/events/{event_id}/proposals/{proposal_id}/comments/{comment_id}",
    status_code=204,
    responses=problems(
        MEMBER,
        NO_BODY,
        CHANGE,
        PROPOSAL_NOT_FOUND,
        COMMENT_NOT_FOUND,
        NOT_ALLOWED_COMMENT,
        COMMENT_DELETED,
    ),
)
async def delete_comment(
    proposal_id: uuid.UUID, comment_id: uuid.UUID, access: EventMember, session: SessionDep
) -> Response:
    """Delete a comment (its author, an organizer or an admin): it stays in the list as a
    tombstone, ``deleted: true`` with an empty body, so the thread keeps its shape."""
    await service.delete_comment(session, access, proposal_id, comment_id)
    return Response(status_code=204)


@router.get("/events/{event_id}/proposals/similar", responses=problems(MEMBER))
async def similar_proposals(
    access: EventMember,
    session: SessionDep,
    q: Annotated[
        str,
        Query(min_length=1, max_length=TITLE_MAX, description="the draft's title"),
        NoNul,
        Stripped,
    ],
    limit: Annotated[int, Query(ge=1, le=search.MAX_RESULTS)] = search.DEFAULT_RESULTS,
) -> SimilarProposals:
    """The event's proposals whose titles are most like ``q`` (a title being written),
    best first, each with its ``similarity`` (pg_trgm's trigram similarity, at least
    0.3): so that people vote for what already exists instead of splitting the votes.
    Pending and decided proposals count, withdrawn and deleted ones never. Any word
    counts, one or two letters too; a ``q`` without a letter or digit finds nothing.
    ``q`` is 1-200 characters as sent, not blank."""
    return await service.similar_proposals(session, access, q, limit)


@router.get(
    "/events/{event_id}/log", responses=problems(MEMBER, AFTER_NEEDS_ASC, BEFORE_NEEDS_DESC)
)
async def read_log(
    access: EventMember,
    session: SessionDep,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
    order: LogOrder = LogOrder.ASC,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = MAX_LIMIT,
) -> LogPage:
    """The event log after ``after`` (default 0), oldest first: what a client that was
    away has missed. With ``order=desc``: newest first, before ``before`` (default: from
    the newest), for an activity timeline; ``next_before`` continues it, and entries
    appended meanwhile never shift its pages. ``after`` goes with ascending order only,
    ``before`` with descending only (422 ``log_order_mismatch``). Counts the event hides
    are null for members, as on the stream."""
    if order == LogOrder.DESC:
        if after is not None:
            raise InvalidInput("log_order_mismatch", AFTER_NEEDS_ASC.detail)
        rows = await repo.read_log_newest_first(session, access.event_id, before, limit)
        next_after, next_before = None, rows.next_after
    else:
        if before is not None:
            raise InvalidInput("log_order_mismatch", BEFORE_NEEDS_DESC.detail)
        rows = await repo.read_log(session, access.event_id, after or 0, limit)
        next_after, next_before = rows.next_after, None
    items = [
        LogEntryOut(
            seq=r.seq,
            type=r.type,
            data=projection.for_role(r.type, r.data, access.role),
            created_at=r.created_at,
        )
        for r in rows.items
    ]
    return LogPage(items=items, next_after=next_after, next_before=next_before)
