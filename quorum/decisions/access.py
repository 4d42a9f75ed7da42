"""Who may touch an event: the ``EventMember`` and ``EventAdmin`` dependencies.

Authorization for every event-scoped route lives here, decided by one query that reads
the event and the caller's membership together: an unknown event is 404
``event_not_found``, anyone without an approved membership 403 ``not_a_member``. What
counts as a member and as an admin is quorum/decisions/rules.py's to say.

A token outlives its account, and a deleted account's memberships go with it (ON DELETE
CASCADE), so a refusal first asks whether the caller still exists: 401
``user_not_found`` then, as everywhere else. Only the refusal path pays that query; a
member's request does not.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path

from quorum.accounts.service import require_user
from quorum.api.deps import CurrentUserId, SessionDep
from quorum.decisions import repository as repo
from quorum.decisions import rules
from quorum.decisions.models import Role
from quorum.errors import NotFound


@dataclass(frozen=True)
class EventAccess:
    event_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    event_status: str
    vote_threshold: int | None
    display_name: str  # the caller's, for the payloads that name them
    anonymous_votes: bool
    hidden_tallies: bool

    @property
    def tally_hidden(self) -> bool:
        """Whether what is written now marks its counts hidden from members."""
        return rules.tally_hidden(self.hidden_tallies, self.event_status)


async def load_access(
    event_id: Annotated[uuid.UUID, Path()], user_id: CurrentUserId, session: SessionDep
) -> EventAccess:
    """The caller's access to the event, as an approved member: the ``EventMember``
    dependency, and called as is by the stream routes, which authenticate their own way."""
    found = await repo.access(session, event_id, user_id)
    if found is None or not rules.is_member(found.membership_status):
        await require_user(session, user_id)
    if found is None:
        raise NotFound("event_not_found", "No such event.")
    role = rules.member_role(found.role, found.membership_status)
    return EventAccess(
        event_id,
        user_id,
        role,
        found.event_status,
        found.vote_threshold,
        found.display_name or "",
        found.anonymous_votes,
        found.hidden_tallies,
    )


EventMember = Annotated[EventAccess, Depends(load_access)]


async def event_admin(access: EventMember) -> EventAccess:
    rules.check_admin(access.role)
    return access


EventAdmin = Annotated[EventAccess, Depends(event_admin)]
