"""The attachment row: what the blob store holds for a proposal, and who put it there.

The row is the object's reason to exist: it commits only once the object is complete,
and an object without a row (a crash between the two, a deleted event) is swept
(quorum/attachments/sweeper.py).
"""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quorum.accounts.models import User
from quorum.db.base import Base, UTCDateTime, utcnow, uuid7

FILENAME_MAX = 255


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("size >= 0", name="size"),
        Index("ix_attachments_proposal_id_id", "proposal_id", "id"),
        Index("ix_attachments_event_id", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship(lazy="raise")


def object_key(event_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    """Where the attachment's bytes live in the blob store."""
    return f"{PREFIX}{event_id}/{attachment_id}"


PREFIX = "attachments/"
