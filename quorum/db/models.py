"""Every table, imported in one place, for Alembic and the schema-drift test, and what
they compare: every object but the trigram search's, which the migrations make per
backend (quorum/decisions/search.py)."""

from quorum.accounts.models import User
from quorum.attachments.models import Attachment
from quorum.db.base import Base
from quorum.decisions.models import Comment, Event, Membership, Proposal, Vote
from quorum.decisions.search import compared
from quorum.idempotency.models import IdempotencyRecord
from quorum.invitations.models import Invitation
from quorum.jobs.models import Job
from quorum.realtime.log import LogEntry

metadata = Base.metadata

__all__ = [
    "Attachment",
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
    "compared",
    "metadata",
]
