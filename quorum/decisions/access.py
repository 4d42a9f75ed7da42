"""Who may touch an event: the ``EventMember`` and ``EventAdmin`` dependencies.

Authorization for every event-scoped route lives here, decided by one query that reads
the event and the caller's membership together: an unknown event is 404
``event_not_found``, anyone without an approved membership 403 ``not_a_member``. What
counts as a member and as an admin is quorum/decisions/rules.py's to say.

The same query reads the token's login session: a revoked or expired session is 401
(``session_revoked``) before anything else, at no extra round trip. A token also
outlives its account, and a deleted account's memberships go with it, so a refusal
first asks whether the caller and the session still exist: 401 ``user_not_found`` or
``session_revoked`` then, as everywhere else. Only the refusal path pays that query; a
member's request does not.
"""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts.service import require_session, session_revoked
from quorum.api.deps import SessionDep, TokenCaller
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
    event_id: Annotated[uuid.UUID, Path()], caller: TokenCaller, session: SessionDep
) -> EventAccess:
    """The caller's access to the event, as an approved member: the ``EventMember``
    dependency. The stream routes ask ``eviction.admission`` instead, in one query for
    many handshakes."""
    found = await repo.access(session, event_id, caller.user_id, caller.session_id)
    if not grants(found):
        await require_session(session, caller)
    return event_access(found, event_id, caller.user_id)


def grants(found: repo.Access | None) -> bool:
    """Does ``repo.access``'s answer let the caller in? If not, ask ``require_session``
    (the refusal's first reason: the account or the session gone) before
    ``event_access`` says which other refusal it is."""
    return found is not None and found.session_live and rules.is_member(found.membership_status)


def event_access(found: repo.Access | None, event_id: uuid.UUID, user_id: uuid.UUID) -> EventAccess:
    """The caller's access from ``repo.access``'s answer, or the refusal it means."""
    if found is not None and not found.session_live:
        raise session_revoked()  # it expired between the two queries
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


async def event_member(
    event_id: Annotated[uuid.UUID, Path()], caller: TokenCaller, request: Request
) -> EventAccess:
    """``load_access`` as a dependency, with the request's session read off the request:
    one dependency fewer for FastAPI to solve on every event-scoped request."""
    session: AsyncSession = request.state.session  # TransactionalRoute's
    return await load_access(event_id, caller, session)


EventMember = Annotated[EventAccess, Depends(event_member)]


async def event_admin(access: EventMember) -> EventAccess:
    rules.check_admin(access.role)
    return access


EventAdmin = Annotated[EventAccess, Depends(event_admin)]
