"""Responses built from rows: the people named in them, and the tally flag.

An event, a proposal, a membership or a comment names people (``PersonOut``), whose names live in
``users``; the reads load them with the row (``selectinload``, or a column of the
statement itself on the vote's hot path, where the UPDATE returns the author's name),
and these functions put them in place. ``cls`` is the schema or the stream payload
built (a payload is a subclass of its response schema), so both come from one place.
"""

import uuid
from typing import Any, Protocol, TypeVar

from quorum.decisions.models import Comment, Event, Membership, Proposal, Vote
from quorum.decisions.schemas import (
    CommentOut,
    DecidedAutomatically,
    DecidedBy,
    DecidedByPerson,
    EventOut,
    MemberOut,
    MembershipOut,
    PersonOut,
    ProposalOut,
    VoterOut,
)

E = TypeVar("E", bound=EventOut)
P = TypeVar("P", bound=ProposalOut)
MS = TypeVar("MS", bound=MembershipOut)
C = TypeVar("C", bound=CommentOut)


class ProposalRow(Protocol):
    """A proposal's columns: an ORM ``Proposal`` or a row an UPDATE returned."""

    id: uuid.UUID
    event_id: uuid.UUID
    kind: str
    title: str
    body: str
    author_id: uuid.UUID
    status: str
    vote_count: int
    decided_by_id: uuid.UUID | None
    decided_automatically: bool
    decided_at: Any
    created_at: Any
    edited_at: Any


def person(user_id: uuid.UUID, display_name: str) -> PersonOut:
    return PersonOut(id=user_id, display_name=display_name)


def event(cls: type[E], row: Event, organizer_name: str) -> E:
    return cls(
        id=row.id,
        title=row.title,
        description=row.description,
        organizer=person(row.organizer_id, organizer_name),
        vote_threshold=row.vote_threshold,
        status=row.status,
        anonymous_votes=row.anonymous_votes,
        hidden_tallies=row.hidden_tallies,
        last_seq=row.last_seq,
        created_at=row.created_at,
        closes_at=row.closes_at,
        closed_at=row.closed_at,
        outcome=row.outcome,
        allow_edits_with_votes=row.allow_edits_with_votes,
    )


def event_of(cls: type[E], row: Event) -> E:
    """From an ``Event`` read with its ``organizer`` loaded (``get_event(people=True)``)."""
    return event(cls, row, row.organizer.display_name)


def decided_by(row: ProposalRow, decider_name: str | None) -> DecidedBy | None:
    if row.decided_automatically:
        return DecidedAutomatically()
    if row.decided_by_id is not None and decider_name is not None:
        return DecidedByPerson(id=row.decided_by_id, display_name=decider_name)
    return None


def proposal(
    cls: type[P],
    row: ProposalRow,
    author_name: str,
    decider_name: str | None,
    *,
    tally_hidden: bool,
) -> P:
    """``tally_hidden``: the event hides counts from members (``rules.tally_hidden``); the
    count is still here, for the log and for admins; ``projection`` takes it out."""
    return cls(
        id=row.id,
        event_id=row.event_id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        author=person(row.author_id, author_name),
        status=row.status,
        vote_count=row.vote_count,
        tally_hidden=tally_hidden,
        decided_by=decided_by(row, decider_name),
        decided_at=row.decided_at,
        created_at=row.created_at,
        edited_at=row.edited_at,
    )


def proposal_of(cls: type[P], row: Proposal, *, tally_hidden: bool) -> P:
    """From a ``Proposal`` read with its ``author`` and ``decided_by`` loaded."""
    decider = row.decided_by.display_name if row.decided_by is not None else None
    return proposal(cls, row, row.author.display_name, decider, tally_hidden=tally_hidden)


def membership(cls: type[MS], row: Membership, decider_name: str | None) -> MS:
    """From a ``Membership`` read with its ``user`` loaded; ``decider_name``: the name of
    whoever decided on it (``decided_by``), if anyone did."""
    decider = None
    if row.decided_by is not None and decider_name is not None:
        decider = person(row.decided_by, decider_name)
    return cls(
        id=row.id,
        event_id=row.event_id,
        user_id=row.user_id,
        user=person(row.user_id, row.user.display_name),
        role=row.role,
        status=row.status,
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=decider,
    )


def membership_of(cls: type[MS], row: Membership) -> MS:
    """From a ``Membership`` read with its ``user`` and (if anyone decided on it) its
    ``decider`` loaded, or one nobody decided on."""
    decider = row.decider.display_name if row.decided_by is not None and row.decider else None
    return membership(cls, row, decider)


def member_of(row: Membership) -> MemberOut:
    return MemberOut(
        membership_id=row.id,
        user=person(row.user_id, row.user.display_name),
        role=row.role,
        joined_at=row.decided_at,
    )


def comment_of(cls: type[C], row: Comment, author_name: str) -> C:
    return cls(
        id=row.id,
        proposal_id=row.proposal_id,
        author=person(row.author_id, author_name),
        body=row.body,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=row.deleted_at is not None,
    )


def comment_out(row: Comment) -> CommentOut:
    """From a ``Comment`` read with its ``author`` loaded."""
    return comment_of(CommentOut, row, row.author.display_name)


def voter_of(row: Vote) -> VoterOut:
    return VoterOut(user=person(row.user_id, row.user.display_name), voted_at=row.created_at)
