"""Queries of the invitations. Only ``flush()`` here; the unit of work commits."""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quorum.db.repository import PageParams, Rows, get, paginate
from quorum.errors import NotFound
from quorum.invitations.models import Invitation

_invitations = cast(Table, Invitation.__table__)


async def add(session: AsyncSession, invitation: Invitation) -> Invitation:
    session.add(invitation)
    await session.flush()
    return invitation


async def list_for_event(
    session: AsyncSession, event_id: uuid.UUID, params: PageParams
) -> Rows[Invitation, uuid.UUID]:
    query = select(Invitation).where(Invitation.event_id == event_id)
    return await paginate(session, query, Invitation.id, params, newest_first=True)


async def get_in_event(
    session: AsyncSession, event_id: uuid.UUID, invitation_id: uuid.UUID, *, for_update: bool
) -> Invitation:
    invitation = await get(
        session,
        Invitation,
        Invitation.id == invitation_id,
        Invitation.event_id == event_id,
        for_update=for_update,
    )
    if invitation is None:
        raise NotFound("invitation_not_found", "No such invitation in this event.")
    return invitation


async def by_hash(session: AsyncSession, token_hash: str) -> Invitation | None:
    return await get(session, Invitation, Invitation.token_hash == token_hash)


async def take_use(session: AsyncSession, token_hash: str, now: datetime) -> Any | None:
    """One use of the link, if it has one left and is neither expired nor revoked: the
    row (``event_id``, ``auto_approve``), or None. One conditional UPDATE: concurrent
    accepts queue on the row's lock and each re-checks ``uses < max_uses`` against the
    count the previous one committed (PostgreSQL re-evaluates the WHERE of an UPDATE that
    waited; SQLite runs writers one at a time), so a link with n uses left admits
    exactly n people however many race for it."""
    connection = await session.connection()
    result = await connection.execute(
        update(_invitations)
        .where(
            _invitations.c.token_hash == token_hash,
            _invitations.c.revoked_at.is_(None),
            _invitations.c.expires_at > now,
            or_(
                _invitations.c.max_uses.is_(None),
                _invitations.c.uses < _invitations.c.max_uses,
            ),
        )
        .values(uses=_invitations.c.uses + 1)
        .returning(_invitations.c.id, _invitations.c.event_id, _invitations.c.auto_approve)
    )
    return result.one_or_none()
