"""The user and login-session tables."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from quorum.db.base import Base, UTCDateTime, utcnow, uuid7

EMAIL_MAX = 254
DISPLAY_NAME_MAX = 100
DELETED_NAME = "deleted user"
UNUSABLE_PASSWORD = "!"  # noqa: S105 - matches no password: argon2 refuses it as a hash


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    # Stored lower-cased, so the unique constraint is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(String(DISPLAY_NAME_MAX))
    # Loaded only where a password is checked (quorum/accounts/repository.py): every other
    # read of a user (the people named in responses) leaves the hash in the database, and
    # an accidental lazy load raises instead of fetching it.
    password_hash: Mapped[str] = mapped_column(String(255), deferred=True, deferred_raiseload=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set when the person deleted the account: the row stays (their proposals, votes and
    # comments name it) with the email, name and password replaced (quorum/accounts/service.py).
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginSession(Base):
    """One login: an access token is valid only while its session row exists and has not
    expired, so logging out (or any revocation) takes effect on every instance at once."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the purge
