"""The jobs table: a job's state, written in the transaction that asks for it.

The row is the truth; the broker only carries the job's id. A worker *claims* the row
before it works (queued, or running with an expired lease, becomes running with one
more attempt), so a job sent twice runs once, and a job whose worker died runs again
once its lease has expired.
"""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quorum.db.base import Base, UTCDateTime, utcnow, uuid7


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s.value) for s in JobState)})", name="state"),
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),
        # The sweeper's query: jobs in a state, oldest send (or lease) first.
        Index("ix_jobs_state_sent_at", "state", "sent_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kind: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    percent: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # last send
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last claim
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # while running
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
