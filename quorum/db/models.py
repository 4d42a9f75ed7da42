"""Every table, imported in one place, for Alembic and the schema-drift test, and what
they compare: Quorum's own tables and what hangs off them, but not the trigram search's
objects, which the migrations make per backend (quorum/decisions/search.py), nor the
tables of another application sharing the database (examples/store_orders keeps its own
tables and version table there): autogenerate would propose dropping them."""

from quorum.accounts.models import User
from quorum.attachments.models import Attachment
from quorum.db.base import Base
from quorum.decisions.models import Comment, Event, Membership, Proposal, Vote
from quorum.decisions.search import is_search_object
from quorum.idempotency.models import IdempotencyRecord
from quorum.invitations.models import Invitation
from quorum.jobs.models import Job
from quorum.realtime.log import LogEntry

metadata = Base.metadata


def compared(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's ``include_name`` hook (quorum/migrations/env.py and the drift test)."""
    if type_ == "table":
        return name in metadata.tables
    return not is_search_object(name)


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
