"""Queries of the attachments table."""

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quorum.attachments.models import Attachment
from quorum.db.repository import PageParams, Rows, get, paginate
from quorum.errors import NotFound


async def get_attachment(
    session: AsyncSession, attachment_id: uuid.UUID, *, for_update: bool = False
) -> Attachment:
    found = await get(
        session,
        Attachment,
        Attachment.id == attachment_id,
        for_update=for_update,
        options=[selectinload(Attachment.author)],
    )
    if found is None:
        raise attachment_not_found()
    return found


def attachment_not_found() -> NotFound:
    return NotFound("attachment_not_found", "No such attachment.")


async def used_bytes(session: AsyncSession, event_id: uuid.UUID) -> int:
    """What the event's attachments take in the blob store, for its quota."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(Attachment.event_id == event_id)
    )
    return int(total or 0)


async def list_attachments(
    session: AsyncSession, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Attachment, uuid.UUID]:
    query = (
        select(Attachment)
        .where(Attachment.proposal_id == proposal_id)
        .options(selectinload(Attachment.author))
    )
    return await paginate(session, query, Attachment.id, params, total=True)


async def delete_attachment(session: AsyncSession, attachment_id: uuid.UUID) -> None:
    await session.execute(delete(Attachment).where(Attachment.id == attachment_id))


async def existing_ids(session: AsyncSession, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` still have their row: the sweeper's question."""
    rows = await session.scalars(select(Attachment.id).where(Attachment.id.in_(ids)))
    return set(rows)
