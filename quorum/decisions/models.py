"""Tables of the decisions domain.

The database holds the invariants: UNIQUE for one vote and one membership per user,
CHECK for every enum and count, foreign keys everywhere. Relationships are
``lazy="raise"`` so that an accidental lazy load fails loudly in tests instead of
raising MissingGreenlet in production; reads that need related rows say so with
``selectinload``.
"""

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from quorum.accounts.models import User
from quorum.db.base import Base, UTCDateTime, utcnow, uuid7

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
BODY_MAX = 10_000
COMMENT_MAX = 5000
OUTCOME_MAX = 5000


class EventStatus(enum.StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class Role(enum.StrEnum):
    ORGANIZER = "ORGANIZER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class MembershipStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ProposalKind(enum.StrEnum):
    ASSUMPTION = "ASSUMPTION"
    CRITERIA = "CRITERIA"
    CONCLUSION = "CONCLUSION"


class ProposalStatus(enum.StrEnum):
    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DELETED = "DELETED"
    WITHDRAWN = "WITHDRAWN"


def _in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_in("status", EventStatus), name="status"),
        CheckConstraint("vote_threshold IS NULL OR vote_threshold >= 1", name="vote_threshold"),
        CheckConstraint("last_seq >= 0", name="last_seq"),
        # The deadline sweeper's query: open events whose ``closes_at`` has passed.
        Index("ix_events_status_closes_at", "status", "closes_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    organizer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    vote_threshold: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.OPEN)
    # Voting options, fixed at creation (docs/decisions.md, "Voting options").
    anonymous_votes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hidden_tallies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The event log's counter: see quorum/realtime/log.py for why it lives on this row.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the deadline, if any
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # while CLOSED
    outcome: Mapped[str | None] = mapped_column(Text)  # what was decided, in words
    allow_edits_with_votes: Mapped[bool] = mapped_column(Boolean, default=False)
    # A deleted event is a tombstone: its content is gone, its row and last log entry stay.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organizer: Mapped[User] = relationship(foreign_keys=[organizer_id], lazy="raise")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        CheckConstraint(_in("role", Role), name="role"),
        CheckConstraint(_in("status", MembershipStatus), name="status"),
        Index("ix_memberships_user_id_status", "user_id", "status"),
        # The members list (approved, oldest first), the list by status, their totals.
        Index("ix_memberships_event_id_status_id", "event_id", "status", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    status: Mapped[str] = mapped_column(String(16), default=MembershipStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")
    decider: Mapped[User | None] = relationship(foreign_keys=[decided_by], lazy="raise")


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(_in("kind", ProposalKind), name="kind"),
        CheckConstraint(_in("status", ProposalStatus), name="status"),
        CheckConstraint("vote_count >= 0", name="vote_count"),
        # Decided by a person or by the threshold, never both.
        CheckConstraint(
            "NOT (decided_automatically AND decided_by_id IS NOT NULL)", name="decided_once"
        ),
        # The event's list, newest first, optionally filtered by status or kind.
        Index("ix_proposals_event_id_id", "event_id", "id"),
        Index("ix_proposals_event_id_status_id", "event_id", "status", "id"),
        # Recently decided (keyset on decided_at, id). Most votes has no index on purpose:
        # vote_count in an index would make every vote's UPDATE a non-HOT one (migration
        # 6c1e8f2a4b07); one event's proposals are sorted instead.
        Index("ix_proposals_event_id_decided_at_id", "event_id", "decided_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.PENDING)
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_automatically: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="raise")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise")


class Vote(Base):
    __tablename__ = "votes"

    proposal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="raise")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_proposal_id_id", "proposal_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A deleted comment is a tombstone (empty body), so the thread keeps its shape.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    author: Mapped[User] = relationship(lazy="raise")
