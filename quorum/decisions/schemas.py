"""Request and response bodies of the decisions API. Responses are these schemas,
never ORM objects; requests refuse unknown fields and oversized strings."""

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool

from quorum.api.text import NONBLANK, NoNul, Stripped
from quorum.decisions.models import (
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    OUTCOME_MAX,
    TITLE_MAX,
    EventStatus,
    MembershipStatus,
    ProposalKind,
    ProposalStatus,
    Role,
)

Title = Annotated[str, Field(min_length=1, max_length=TITLE_MAX, pattern=NONBLANK), NoNul, Stripped]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), NoNul]
# strict: JSON true is not a threshold of 1, nor "3" one of 3
Threshold = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Outcome = Annotated[str, Field(max_length=OUTCOME_MAX), NoNul]
# A deadline names its time zone: a naive time would mean something else on every server.
# That it lies in the future is checked against the clock by the service.
Deadline = AwareDatetime
Option = Annotated[bool, Field(strict=True)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PersonOut(_Out):
    """A person wherever one is named: their id and the name to show."""

    id: uuid.UUID
    display_name: str


class DecidedAutomatically(BaseModel):
    """The proposal's votes reached the event's threshold."""

    kind: Literal["auto"] = "auto"


class DecidedByPerson(PersonOut):
    """An organizer or admin decided (or the author deleted it)."""

    kind: Literal["user"] = "user"


DecidedBy = Annotated[DecidedAutomatically | DecidedByPerson, Field(discriminator="kind")]


class EventCreate(_In):
    title: Title
    description: Description = ""
    vote_threshold: Threshold | None = None
    closes_at: Deadline | None = None
    allow_edits_with_votes: StrictBool = False
    anonymous_votes: Option = Field(
        False, description="Counts are public, voters never named. Fixed once created."
    )
    hidden_tallies: Option = Field(
        False,
        description="Members see no counts until the event closes (organizers and admins "
        "do). Fixed once created.",
    )


class EventUpdate(_In):
    title: Title | None = None
    description: Description | None = None
    vote_threshold: Threshold | None = None  # explicit null: manual decisions only
    status: EventStatus | None = None
    closes_at: Deadline | None = None  # explicit null: no deadline
    outcome: Outcome | None = None  # the one change a CLOSED event takes; null clears it
    allow_edits_with_votes: StrictBool | None = None
    # Fixed at creation: accepted here only to answer 422 ``option_fixed``, not a
    # generic validation error, to a client that tries.
    anonymous_votes: Option | None = Field(None, description="Fixed: 422 option_fixed.")
    hidden_tallies: Option | None = Field(None, description="Fixed: 422 option_fixed.")


class EventOut(_Out):
    id: uuid.UUID
    title: str
    description: str
    organizer: PersonOut
    vote_threshold: int | None
    status: EventStatus
    anonymous_votes: bool
    hidden_tallies: bool
    last_seq: int
    created_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    allow_edits_with_votes: bool


class MyMembership(_Out):
    """The caller's own standing in an event, on each item of their events list."""

    status: MembershipStatus
    role: Role


class EventListItem(EventOut):
    my_membership: MyMembership


class MembershipFilter(enum.StrEnum):
    """Which of the caller's events ``GET /events`` lists: those they are an approved
    member of (the default), those they asked to join and wait for, or every one they
    have a membership of, rejected included."""

    APPROVED = "approved"
    PENDING = "pending"
    ALL = "all"


class MembershipUpdate(_In):
    status: Literal[MembershipStatus.APPROVED, MembershipStatus.REJECTED] | None = None
    role: Literal[Role.ADMIN, Role.MEMBER] | None = None


class MembershipOut(_Out):
    id: uuid.UUID
    event_id: uuid.UUID
    user_id: uuid.UUID
    user: PersonOut
    role: Role
    status: MembershipStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: PersonOut | None = Field(
        description="the organizer or admin who approved or rejected the request; null "
        "while pending, for the organizer's own membership, and for a join through a link"
    )


Body = Annotated[str, Field(max_length=BODY_MAX), NoNul]


class ProposalCreate(_In):
    kind: ProposalKind
    title: Title
    body: Body = ""


class ProposalUpdate(_In):
    """A decision (``status``), or the author's edit (``title``, ``body``): not both."""

    status: (
        Literal[
            ProposalStatus.ACCEPTED,
            ProposalStatus.REJECTED,
            ProposalStatus.DELETED,
            ProposalStatus.WITHDRAWN,
        ]
        | None
    ) = None
    title: Title | None = None
    body: Body | None = None


class ProposalSort(enum.StrEnum):
    """Orders of an event's proposals. ``newest``: creation, newest first (the default).
    ``most_votes``: by ``vote_count``, most first, ties newest first. ``recently_decided``:
    the decided proposals only (no longer PENDING), most recently decided first, ties
    newest first."""

    NEWEST = "newest"
    MOST_VOTES = "most_votes"
    RECENTLY_DECIDED = "recently_decided"


class MemberOut(BaseModel):
    """An approved member of an event."""

    membership_id: uuid.UUID
    user: PersonOut
    role: Role
    joined_at: datetime | None  # when the request was approved (the organizer: creation)


class ProposalOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    kind: ProposalKind
    title: str
    body: str
    author: PersonOut
    status: ProposalStatus
    vote_count: int | None = Field(
        description="null for members while the event hides its tallies (``tally_hidden``)"
    )
    tally_hidden: bool = Field(
        False, description="the event hides counts from members until it closes"
    )
    decided_by: DecidedBy | None
    decided_at: datetime | None
    created_at: datetime
    edited_at: datetime | None = None  # when its author last changed title or body


class CommentCreate(_In):
    body: Annotated[
        str,
        Field(min_length=1, max_length=COMMENT_MAX, pattern=NONBLANK),
        NoNul,
        Stripped,
    ]


class CommentUpdate(CommentCreate):
    """The author's new text of the comment."""


class CommentOut(BaseModel):
    id: uuid.UUID
    proposal_id: uuid.UUID
    author: PersonOut
    body: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False  # a tombstone: the comment was deleted, its body is empty


class ProposalDetail(ProposalOut):
    latest_comments: list[CommentOut]


class VoteOut(BaseModel):
    proposal: ProposalOut


class VoterOut(BaseModel):
    """Who voted for a proposal, and when (never on an anonymous event)."""

    user: PersonOut
    voted_at: datetime


class LogEntryOut(_Out):
    seq: int
    type: str
    data: dict[str, Any]
    created_at: datetime


class LogOrder(enum.StrEnum):
    """``asc``: oldest first, continued with ``after`` (catching up); ``desc``: newest
    first, continued with ``before`` (the activity timeline)."""

    ASC = "asc"
    DESC = "desc"


class LogPage(BaseModel):
    items: list[LogEntryOut]
    next_after: int | None  # order=asc: pass as ``after`` for the next page; null at the end
    next_before: int | None = None  # order=desc: pass as ``before`` for the next (older) one


class SimilarProposalOut(ProposalOut):
    similarity: float = Field(
        ge=0, le=1, description="pg_trgm's trigram similarity of the title to ``q``"
    )


class SimilarProposals(BaseModel):
    """The event's proposals most like a draft's title, best first."""

    items: list[SimilarProposalOut]
