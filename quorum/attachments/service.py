"""Use cases of attachments. The bytes are not this module's business: the router streams
them into the blob store first, and only a complete object gets its row here, in one
transaction with its ``attachment.added`` entry."""

import uuid
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from quorum.attachments import repository as repo
from quorum.attachments.models import Attachment, object_key
from quorum.attachments.schemas import AttachmentOut
from quorum.db.base import utcnow
from quorum.db.repository import PageParams, Rows
from quorum.decisions import repository as decisions
from quorum.decisions import rules
from quorum.decisions.access import EventAccess
from quorum.decisions.events import AttachmentAdded, AttachmentRemoved
from quorum.decisions.models import EventStatus, ProposalStatus
from quorum.decisions.views import person
from quorum.errors import Conflict, PermissionDenied

API_PREFIX = "/api/v1"
A = TypeVar("A", bound=AttachmentOut)


@dataclass(frozen=True)
class StoredFile:
    """An upload whose bytes are in the blob store under ``object_key``."""

    id: uuid.UUID
    filename: str
    content_type: str
    size: int


def attachment_out(cls: type[A], row: Attachment, author_name: str) -> A:
    return cls(
        id=row.id,
        event_id=row.event_id,
        proposal_id=row.proposal_id,
        author=person(row.author_id, author_name),
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        created_at=row.created_at,
        url=f"{API_PREFIX}/attachments/{row.id}",
    )


def out(row: Attachment) -> AttachmentOut:
    return attachment_out(AttachmentOut, row, row.author.display_name)


async def check_can_attach(
    session: AsyncSession,
    access: EventAccess,
    proposal_id: uuid.UUID,
    declared_size: int | None,
    quota: int,
) -> None:
    """Refuse early, before the bytes are received, what ``add`` would refuse at the end."""
    if access.event_status == EventStatus.CLOSED:
        raise rules.event_closed()
    await _live_proposal(session, access, proposal_id, lock=False)
    await _check_quota(session, access.event_id, declared_size or 0, quota)


async def add(
    session: AsyncSession,
    access: EventAccess,
    proposal_id: uuid.UUID,
    stored: StoredFile,
    quota: int,
) -> AttachmentOut:
    # The event's row, locked, serialises the quota check with every other upload's.
    await decisions.get_event(session, access.event_id, for_update=True)
    await _live_proposal(session, access, proposal_id, lock=True)
    await _check_quota(session, access.event_id, stored.size, quota)
    row = Attachment(
        id=stored.id,
        event_id=access.event_id,
        proposal_id=proposal_id,
        author_id=access.user_id,
        filename=stored.filename,
        content_type=stored.content_type,
        size=stored.size,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    added = attachment_out(AttachmentAdded, row, access.display_name)
    await decisions.append_log(session, access.event_id, [added.entry()])
    return attachment_out(AttachmentOut, row, access.display_name)


async def list_attachments(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, params: PageParams
) -> Rows[Attachment, uuid.UUID]:
    await decisions.get_proposal(session, access.event_id, proposal_id)  # of this event, or 404
    return await repo.list_attachments(session, proposal_id, params)


async def remove(session: AsyncSession, access: EventAccess, row: Attachment) -> str:
    """Delete the attachment's row and log it; returns the object's key, for the caller to
    delete once this transaction has committed."""
    if row.author_id != access.user_id and not rules.sees_tallies(access.role):
        raise PermissionDenied(
            "not_allowed", "Only its author, an organizer or an admin may delete an attachment."
        )
    await repo.delete_attachment(session, row.id)
    removed = AttachmentRemoved(
        id=row.id,
        event_id=row.event_id,
        proposal_id=row.proposal_id,
        removed_by=person(access.user_id, access.display_name),
    )
    await decisions.append_log(session, access.event_id, [removed.entry()])
    return object_key(row.event_id, row.id)


async def _live_proposal(
    session: AsyncSession, access: EventAccess, proposal_id: uuid.UUID, *, lock: bool
) -> None:
    proposal = await decisions.get_proposal(session, access.event_id, proposal_id, for_share=lock)
    if proposal.status == ProposalStatus.DELETED:
        raise Conflict("proposal_deleted", "The proposal was deleted: it takes no attachments.")


async def _check_quota(session: AsyncSession, event_id: uuid.UUID, size: int, quota: int) -> None:
    used = await repo.used_bytes(session, event_id)
    if used + size > quota:
        raise Conflict(
            "attachment_quota_exceeded",
            f"The event's attachments would exceed {quota} bytes; delete some first.",
        )
