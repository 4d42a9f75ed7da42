"""The invitations table.

A link's token is a bearer secret: only its SHA-256 is stored (``token_hash``, unique),
so a database dump lets nobody in. ``uses`` only grows, by the conditional UPDATE that
admits someone, and never past ``max_uses`` (a CHECK holds it, too).
"""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quorum.db.base import Base, UTCDateTime, utcnow, uuid7

TOKEN_HASH_LENGTH = 64  # SHA-256, hex


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("uses >= 0", name="uses"),
        CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="max_uses"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="uses_within_max"),
        # The event's list of links, newest first.
        Index("ix_invitations_event_id_id", "event_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    auto_approve: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
