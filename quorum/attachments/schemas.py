"""What the API says about an attachment."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from quorum.decisions.schemas import PersonOut


class AttachmentOut(BaseModel):
    """A file on a proposal; its bytes are at ``url``."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    proposal_id: uuid.UUID
    author: PersonOut
    filename: str
    content_type: str = Field(description="decided from the file's first bytes")
    size: int = Field(description="bytes")
    created_at: datetime
    url: str = Field(description="where to download it (GET, Range requests welcome)")
