"""What a deleted account takes out of the decisions domain: the person's memberships
and requests, except an organizer's, which stays so that the event keeps its organizer
(now shown as "deleted user"). Proposals, votes and comments stay: they are the
decisions' history, except the person's votes on proposals still PENDING in the events
they leave, which are withdrawn as any leaving member's are. The accounts feature calls
this through the application (``AccountCleanup``, quorum/accounts/service.py), so
accounts import nothing from here.

Each event that loses a membership logs ``membership.removed``, in the deletion's
transaction. The membership rows are locked (deleted) first, then each event's proposals
and its row (the log's counter), in event id order: the order every membership change
takes.
"""

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.decisions import repository as repo
from quorum.decisions.events import MembershipRemoved
from quorum.decisions.models import Membership, Role
from quorum.decisions.service import DELETED_USER, withdraw_votes
from quorum.decisions.views import person


async def forget_member(session: AsyncSession, user_id: uuid.UUID) -> None:
    removed = (
        await session.execute(
            delete(Membership)
            .where(Membership.user_id == user_id, Membership.role != Role.ORGANIZER)
            .returning(Membership.id, Membership.event_id)
        )
    ).all()
    for membership_id, event_id in sorted(removed, key=lambda row: row.event_id):
        payload = MembershipRemoved(
            id=membership_id,
            event_id=event_id,
            user_id=user_id,
            user=person(user_id, DELETED_USER),
            reason="account_deleted",
        )
        withdrawn = await withdraw_votes(session, event_id, user_id, DELETED_USER)
        # Closed events too: the membership is gone from them as well.
        entries = [payload.entry(), *withdrawn]
        await repo.append_log(session, event_id, entries, require_open=False)
