"""HTTP routes of invitation links (prefix /api/v1): organizers and admins make, list and
revoke them; any logged-in user opens one (a preview of the event) and accepts it.

The token travels in the path: the access log redacts it (quorum/logs.py), as it does
stream tickets in query strings.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from quorum.api.deps import CurrentUserId, SessionDep
from quorum.api.idempotency import IdempotencyDep
from quorum.api.pagination import Page, page, page_params
from quorum.api.problems import (
    AUTH,
    DATABASE,
    IDEMPOTENT,
    JSON_BODY,
    NO_BODY,
    PAGE,
    VALIDATION_ERROR,
    problems,
)
from quorum.api.routing import TransactionalRoute
from quorum.db.repository import PageParams
from quorum.decisions.access import EventAdmin
from quorum.decisions.problems import ADMIN, EVENT_CLOSED, MEMBERSHIP_EXISTS
from quorum.decisions.schemas import MembershipOut
from quorum.invitations import service
from quorum.invitations.problems import INVITATION_NOT_FOUND, UNUSABLE
from quorum.invitations.schemas import (
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    InvitationPreview,
)

router = APIRouter(
    route_class=TransactionalRoute, dependencies=[IdempotencyDep], tags=["invitations"]
)
PageDep = Annotated[PageParams, Depends(page_params)]
Token = Annotated[str, Path(min_length=1, max_length=128)]


@router.post(
    "/events/{event_id}/invitations",
    status_code=201,
    responses=problems(ADMIN, JSON_BODY, IDEMPOTENT),
)
async def create_invitation(
    body: InvitationCreate, access: EventAdmin, session: SessionDep
) -> InvitationCreated:
    """Make an invitation link (organizer or admin): valid ``expires_in_hours`` (default a
    week, at most 30 days), for ``max_uses`` people (null: any number); ``auto_approve``
    makes whoever accepts it a member at once, otherwise it lets them ask. The ``token``
    is shown in this response only: only its SHA-256 is kept."""
    return await service.create(session, access, body)


@router.get("/events/{event_id}/invitations", responses=problems(ADMIN, PAGE))
async def list_invitations(
    access: EventAdmin, session: SessionDep, params: PageDep
) -> Page[InvitationOut]:
    """The event's invitation links, newest first, with their uses (never their tokens)."""
    rows = await service.list_for_event(session, access, params)
    return page(rows, InvitationOut.model_validate)


@router.delete(
    "/events/{event_id}/invitations/{invitation_id}",
    status_code=204,
    responses=problems(ADMIN, NO_BODY, IDEMPOTENT, INVITATION_NOT_FOUND),
)
async def revoke_invitation(
    invitation_id: uuid.UUID, access: EventAdmin, session: SessionDep
) -> Response:
    """Revoke a link: it admits nobody from now on (410 ``invitation_revoked``); the
    memberships it gave stay. Revoking it again is harmless."""
    await service.revoke(session, access, invitation_id)
    return Response(status_code=204)


@router.get(
    "/invitations/{token}",
    responses=problems(AUTH, VALIDATION_ERROR, UNUSABLE, DATABASE),
)
async def preview_invitation(
    token: Token, user_id: CurrentUserId, session: SessionDep
) -> InvitationPreview:
    """What a link leads to (any logged-in user): the event's title and description, its
    organizer, whether accepting makes one a member at once, and until when."""
    return await service.preview(session, token)


@router.post(
    "/invitations/{token}/accept",
    status_code=201,
    responses=problems(
        AUTH,
        VALIDATION_ERROR,
        NO_BODY,
        IDEMPOTENT,
        UNUSABLE,
        MEMBERSHIP_EXISTS,
        EVENT_CLOSED,
        DATABASE,
    ),
)
async def accept_invitation(
    token: Token, user_id: CurrentUserId, session: SessionDep
) -> MembershipOut:
    """Join through a link, taking one of its uses: an APPROVED membership
    (``membership.joined``) if it approves at once, else a PENDING request
    (``membership.requested``). 409 ``membership_exists`` for anyone who already has a
    membership or a request (any status), without using the link up."""
    return await service.accept(session, token, user_id)
