"""Request and response bodies of the decisions API. Responses are these schemas,
never ORM objects; requests refuse unknown fields and oversized strings."""

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quorum.api.text import NONBLANK, NoNul, Stripped
from quorum.decisions.models import (
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EventCreate(_In):
    title: Title
    description: Description = ""
    vote_threshold: Threshold | None = None


class EventUpdate(_In):
    title: Title | None = None
    description: Description | None = None
    vote_threshold: Threshold | None = None  # explicit null: manual decisions only
    status: EventStatus | None = None


class EventOut(_Out):
    id: uuid.UUID
    title: str
    description: str
    organizer_id: uuid.UUID
    vote_threshold: int | None
    status: EventStatus
    last_seq: int
    created_at: datetime


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
    role: Role
    status: MembershipStatus
    created_at: datetime
    decided_at: datetime | None


class ProposalCreate(_In):
    kind: ProposalKind
    title: Title
    body: Annotated[str, Field(max_length=BODY_MAX), NoNul] = ""


class ProposalUpdate(_In):
    status: Literal[ProposalStatus.ACCEPTED, ProposalStatus.REJECTED, ProposalStatus.DELETED]


class ProposalOut(_Out):
    id: uuid.UUID
    event_id: uuid.UUID
    kind: ProposalKind
    title: str
    body: str
    author_id: uuid.UUID
    status: ProposalStatus
    vote_count: int
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class CommentCreate(_In):
    body: Annotated[
        str,
        Field(min_length=1, max_length=COMMENT_MAX, pattern=NONBLANK),
        NoNul,
        Stripped,
    ]


class CommentOut(_Out):
    id: uuid.UUID
    proposal_id: uuid.UUID
    author_id: uuid.UUID
    author_name: str
    body: str
    created_at: datetime


class ProposalDetail(ProposalOut):
    latest_comments: list[CommentOut]


class VoteOut(BaseModel):
    proposal: ProposalOut


class LogEntryOut(_Out):
    seq: int
    type: str
    data: dict[str, Any]
    created_at: datetime


class LogPage(BaseModel):
    items: list[LogEntryOut]
    next_after: int | None  # pass as ``after`` for the next page; null at the end
