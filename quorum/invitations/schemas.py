"""Request and response bodies of the invitation routes. The token appears in exactly
one response, the creation's: listings never show it (only its hash is stored)."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quorum.decisions.models import EventStatus

DEFAULT_HOURS = 168  # a week
MAX_HOURS = 30 * 24
MAX_USES = 10_000


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_hours: Annotated[int, Field(ge=1, le=MAX_HOURS, strict=True)] = DEFAULT_HOURS
    max_uses: Annotated[int, Field(ge=1, le=MAX_USES, strict=True)] | None = None  # null: no limit
    auto_approve: Annotated[bool, Field(strict=True)] = False


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    created_by_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    max_uses: int | None
    uses: int
    auto_approve: bool
    revoked_at: datetime | None


class InvitationCreated(InvitationOut):
    token: str  # shown this once
    url: str  # the API path that previews the link; POST to ``{url}/accept`` to join


class Person(BaseModel):
    """A person as the plan shows one everywhere: id and name."""

    id: uuid.UUID
    display_name: str


class InvitationPreview(BaseModel):
    """What a link shows before it is accepted: the event, who organizes it, and what
    accepting does (join at once, or ask)."""

    event_id: uuid.UUID
    title: str
    description: str
    status: EventStatus
    organizer: Person
    auto_approve: bool
    expires_at: datetime
