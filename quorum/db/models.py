"""Every table, imported in one place, for Alembic and the schema-drift test."""

from quorum.accounts.models import User
from quorum.db.base import Base
from quorum.decisions.models import Comment, Event, Membership, Proposal, Vote
from quorum.idempotency.models import IdempotencyRecord
from quorum.invitations.models import Invitation
from quorum.jobs.models import Job
from quorum.realtime.log import LogEntry

metadata = Base.metadata

__all__ = [
    "Comment",
    "Event",
    "IdempotencyRecord",
    "Invitation",
    "Job",
    "LogEntry",
    "Membership",
    "Proposal",
    "User",
    "Vote",
    "metadata",
]
