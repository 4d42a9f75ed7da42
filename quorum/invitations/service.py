"""Use cases of invitation links. Each runs inside the caller's unit of work.

Creating and revoking a link is not logged on the event's stream: a link is the
organizers' and admins' business, and every member reads the stream. Accepting one is:
it writes a membership, logged as ``membership.joined`` (the link approves at once) or
``membership.requested`` (it only lets the person ask), in the transaction that takes
the link's use, so a refused join (already a member, a closed event) gives the use back.
"""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.accounts import repository as accounts
from quorum.db.base import utcnow, uuid7
from quorum.db.repository import PageParams, Rows
from quorum.decisions import repository as decisions
from quorum.decisions import views
from quorum.decisions.access import EventAccess
from quorum.decisions.events import MembershipJoined, MembershipRequested
from quorum.decisions.models import MembershipStatus, Role
from quorum.decisions.schemas import MembershipOut
from quorum.errors import Conflict, Gone, NotFound
from quorum.invitations import repository as repo
from quorum.invitations.models import Invitation
from quorum.invitations.schemas import (
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    InvitationPreview,
    Person,
)

TOKEN_BYTES = 32
DELETED_USER = "deleted user"


def token_hash(token: str) -> str:
    """What is stored of a token, and looked up by: its SHA-256. The token has 256 random
    bits, so a plain hash (no salt, no stretching) cannot be reversed or guessed."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    session: AsyncSession, access: EventAccess, data: InvitationCreate
) -> InvitationCreated:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = utcnow()
    invitation = await repo.add(
        session,
        Invitation(
            id=uuid7(),
            event_id=access.event_id,
            token_hash=token_hash(token),
            created_by_id=access.user_id,
            created_at=now,
            expires_at=now + timedelta(hours=data.expires_in_hours),
            max_uses=data.max_uses,
            uses=0,
            auto_approve=data.auto_approve,
        ),
    )
    out = InvitationOut.model_validate(invitation)
    return InvitationCreated(**out.model_dump(), token=token, url=f"/invitations/{token}")


async def list_for_event(
    session: AsyncSession, access: EventAccess, params: PageParams
) -> Rows[Invitation, uuid.UUID]:
    return await repo.list_for_event(session, access.event_id, params)


async def revoke(session: AsyncSession, access: EventAccess, invitation_id: uuid.UUID) -> None:
    """Revoke a link; revoking it again changes nothing. Memberships it gave stay."""
    invitation = await repo.get_in_event(session, access.event_id, invitation_id, for_update=True)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        await session.flush()


def check_usable(invitation: Invitation | None, now: datetime) -> Invitation:
    """The link, if it can still be used; otherwise why not (revoked first: it was a
    decision; then expired; then used up)."""
    if invitation is None:
        raise NotFound("invitation_not_found", "No such invitation.")
    if invitation.revoked_at is not None:
        raise Gone("invitation_revoked", "This invitation was revoked.")
    if invitation.expires_at <= now:
        raise Gone("invitation_expired", "This invitation has expired.")
    if invitation.max_uses is not None and invitation.uses >= invitation.max_uses:
        raise Gone("invitation_used_up", "This invitation has no uses left.")
    return invitation


async def preview(session: AsyncSession, token: str) -> InvitationPreview:
    invitation = check_usable(await repo.by_hash(session, token_hash(token)), utcnow())
    event = await decisions.get_event(session, invitation.event_id)
    name = await accounts.display_name(session, event.organizer_id) or DELETED_USER
    return InvitationPreview(
        event_id=event.id,
        title=event.title,
        description=event.description,
        status=event.status,
        organizer=Person(id=event.organizer_id, display_name=name),
        auto_approve=invitation.auto_approve,
        expires_at=invitation.expires_at,
    )


async def accept(session: AsyncSession, token: str, user_id: uuid.UUID) -> MembershipOut:
    """Join through a link: take one use (the link's row lock first), add the membership,
    then log it (the event row, the log's counter, last)."""
    hashed, now = token_hash(token), utcnow()
    taken = await repo.take_use(session, hashed, now)
    if taken is None:
        check_usable(await repo.by_hash(session, hashed), now)
        raise Gone("invitation_used_up", "This invitation has no uses left.")
    status = MembershipStatus.APPROVED if taken.auto_approve else MembershipStatus.PENDING
    membership = await decisions.add_membership(
        session, taken.event_id, user_id, Role.MEMBER, status
    )
    if membership is None:
        raise Conflict(
            "membership_exists", "You already have a membership or a request for this event."
        )
    payload: MembershipJoined | MembershipRequested
    if taken.auto_approve:
        membership.decided_at = now  # decided by the link: ``decided_by`` stays null
        await session.flush()
        payload = views.membership_of(MembershipJoined, membership)
    else:
        payload = views.membership_of(MembershipRequested, membership)
    await decisions.append_log(session, taken.event_id, [payload.entry()])
    return payload
